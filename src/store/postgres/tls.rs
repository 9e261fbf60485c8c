//! TLS for PostgreSQL connections: rustls with the ring provider, checking
//! the server's certificate as libpq's `sslmode` says (PostgreSQL's
//! documentation, "SSL Support"):
//!
//! - `disable`: no TLS (tokio-postgres never starts it);
//! - `prefer`, `require`: the certificate unchecked, unless `sslrootcert`
//!   names authorities, which then must have signed it (libpq checks a root
//!   file whenever there is one);
//! - `verify-ca`: signed by `sslrootcert`'s authorities, else the system's;
//! - `verify-full`: that, and the certificate names the host.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::url::TlsMode;
use crate::error::Error;

/// The connector tokio-postgres uses for TLS, for `mode` with the
/// authorities in `root_cert` (a PEM file) or, when verifying without one,
/// the system's.
pub fn connector(mode: TlsMode, root_cert: Option<&Path>) -> Result<MakeRustlsConnect, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::runtime(format!("cannot set up TLS: {e}")))?;
    let config = match verifier(mode, root_cert, &provider)? {
        Some(verifier) => builder
            .dangerous()
            .with_custom_certificate_verifier(verifier),
        // Not used with sslmode=disable; trusting nothing keeps it so.
        None => builder.with_root_certificates(RootCertStore::empty()),
    };
    Ok(MakeRustlsConnect::new(config.with_no_client_auth()))
}

/// The check of the server's certificate `mode` asks for; `None` for no TLS.
fn verifier(
    mode: TlsMode,
    root_cert: Option<&Path>,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<dyn ServerCertVerifier>>, Error> {
    let signed_by = |roots: RootCertStore| -> Result<Arc<WebPkiServerVerifier>, Error> {
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| Error::runtime(format!("cannot set up TLS: {e}")))
    };
    Ok(Some(match (mode, root_cert) {
        (TlsMode::Disable, _) => return Ok(None),
        (TlsMode::Prefer | TlsMode::Require, None) => Arc::new(Unverified(provider.clone())),
        (TlsMode::Prefer | TlsMode::Require | TlsMode::VerifyCa, _) => {
            Arc::new(ChainOnly(signed_by(roots(root_cert)?)?))
        }
        (TlsMode::VerifyFull, _) => signed_by(roots(root_cert)?)?,
    }))
}

/// The authorities in `root_cert`, else the system's.
fn roots(root_cert: Option<&Path>) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    Error::runtime(format!("cannot read sslrootcert {}: {e}", path.display()))
                })?;
            roots.add_parsable_certificates(certs);
            if roots.is_empty() {
                return Err(Error::usage(format!(
                    "sslrootcert {} holds no certificate",
                    path.display()
                ))
                .with_hint(
                    "name a PEM file of the authorities that sign the server's certificate",
                ));
            }
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            if roots.is_empty() {
                return Err(Error::runtime("found no system certificate authorities to check the server with")
                    .with_hint("install the system's CA certificates, or name the server's authority with ?sslrootcert=FILE"));
            }
        }
    }
    Ok(roots)
}

/// libpq's `require` without a root file: any certificate, though the
/// handshake must still be signed by its key.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// libpq's `verify-ca`: a chain to a trusted authority, whatever host the
/// certificate names. The chain is checked before the name, so a name
/// mismatch means the chain was good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    // Made with `openssl ca`, valid from 2000 to 2100: a P-256 authority, a
    // server certificate it signed for db.example, and an unrelated
    // authority.
    const CA: &str = include_str!("testdata/ca.pem");
    const OTHER_CA: &str = include_str!("testdata/other-ca.pem");
    /// Issued by `CA` for `db.example`.
    const LEAF: &str = include_str!("testdata/leaf.pem");

    const ALL: [TlsMode; 5] = [
        TlsMode::Disable,
        TlsMode::Prefer,
        TlsMode::Require,
        TlsMode::VerifyCa,
        TlsMode::VerifyFull,
    ];

    fn pem_file(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// Whether the verifier for `mode` accepts `LEAF` presented as `host`.
    fn accepts(mode: TlsMode, root_cert: Option<&Path>, host: &str) -> bool {
        let verifier = verifier(mode, root_cert, &provider()).unwrap().unwrap();
        let leaf = CertificateDer::from_pem_slice(LEAF.as_bytes()).unwrap();
        let name = ServerName::try_from(host.to_string()).unwrap();
        verifier
            .verify_server_cert(&leaf, &[], &name, &[], UnixTime::now())
            .is_ok()
    }

    #[test]
    fn a_connector_is_built_for_every_mode() {
        let dir = tempfile::tempdir().unwrap();
        let ca = pem_file(dir.path(), "ca.pem", CA);
        for mode in ALL {
            connector(mode, Some(&ca)).unwrap();
        }
        // Without sslrootcert, the verifying modes read the system's
        // authorities, which a bare container may lack.
        let system_roots = !rustls_native_certs::load_native_certs().certs.is_empty();
        for mode in ALL {
            let built = connector(mode, None);
            let needs_roots = matches!(mode, TlsMode::VerifyCa | TlsMode::VerifyFull);
            assert_eq!(built.is_ok(), system_roots || !needs_roots, "{mode:?}");
        }
    }

    #[test]
    fn disable_has_no_verifier() {
        assert!(
            verifier(TlsMode::Disable, None, &provider())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn prefer_and_require_accept_any_certificate_without_a_root_file() {
        assert!(accepts(TlsMode::Prefer, None, "db.example"));
        assert!(accepts(TlsMode::Require, None, "elsewhere.example"));
    }

    #[test]
    fn a_root_file_checks_the_chain_in_every_mode() {
        let dir = tempfile::tempdir().unwrap();
        let ca = pem_file(dir.path(), "ca.pem", CA);
        let other = pem_file(dir.path(), "other.pem", OTHER_CA);
        for mode in [TlsMode::Prefer, TlsMode::Require, TlsMode::VerifyCa] {
            assert!(accepts(mode, Some(&ca), "db.example"), "{mode:?}");
            assert!(accepts(mode, Some(&ca), "elsewhere.example"), "{mode:?}");
            assert!(!accepts(mode, Some(&other), "db.example"), "{mode:?}");
        }
    }

    #[test]
    fn verify_full_checks_the_chain_and_the_host_name() {
        let dir = tempfile::tempdir().unwrap();
        let ca = pem_file(dir.path(), "ca.pem", CA);
        let other = pem_file(dir.path(), "other.pem", OTHER_CA);
        assert!(accepts(TlsMode::VerifyFull, Some(&ca), "db.example"));
        assert!(!accepts(
            TlsMode::VerifyFull,
            Some(&ca),
            "elsewhere.example"
        ));
        assert!(!accepts(TlsMode::VerifyFull, Some(&other), "db.example"));
    }

    #[test]
    fn a_bad_root_file_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = connector(TlsMode::VerifyFull, Some(&missing))
            .err()
            .unwrap();
        assert_eq!(err.kind, crate::error::Kind::Runtime);
        assert!(err.message.contains("missing.pem"), "{}", err.message);

        let empty = pem_file(dir.path(), "empty.pem", "not a certificate\n");
        let err = connector(TlsMode::VerifyFull, Some(&empty)).err().unwrap();
        assert_eq!(err.kind, crate::error::Kind::Usage);
        assert!(
            err.message.contains("holds no certificate"),
            "{}",
            err.message
        );
    }
}
