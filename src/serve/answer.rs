//! How a request to /verify is answered: the one place a verdict becomes
//! an HTTP status, a body, and the result label of the log and metrics.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::verify::{Reason, Verdict};

/// What a request to /verify gets.
pub enum Answer {
    /// The query is not a list of privileges: the proxy's configuration
    /// error, not the client's.
    BadRequest,
    /// No Authorization header.
    Missing,
    Verdict(Verdict),
    /// The store or argon2 could not answer; the label says which.
    Unavailable(&'static str),
}

impl Answer {
    pub fn status(&self) -> StatusCode {
        match self {
            Answer::BadRequest => StatusCode::BAD_REQUEST,
            Answer::Verdict(Verdict::Valid { .. }) => StatusCode::OK,
            // A valid token without a required privilege.
            Answer::Verdict(Verdict::Refused {
                reason: Reason::Forbidden,
                ..
            }) => StatusCode::FORBIDDEN,
            Answer::Missing | Answer::Verdict(Verdict::Refused { .. }) => StatusCode::UNAUTHORIZED,
            Answer::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The result in the log line and `/metrics`: `ok`, or why not.
    pub fn label(&self) -> &'static str {
        match self {
            Answer::BadRequest => "bad-request",
            Answer::Missing => "missing",
            Answer::Verdict(Verdict::Valid { .. }) => "ok",
            Answer::Verdict(Verdict::Refused { reason, .. }) => reason.as_str(),
            Answer::Unavailable(why) => why,
        }
    }

    /// What the log line says after the label: the token a 200 is for, or
    /// the id a 401 refused (ids are not secret); never the token.
    pub fn who(&self) -> String {
        match self {
            Answer::Verdict(Verdict::Valid { token: t, .. }) => {
                format!(" account={} token={} id={}", t.account, t.name, t.id)
            }
            Answer::Verdict(Verdict::Refused { id: Some(id), .. })
                if self.status() == StatusCode::UNAUTHORIZED =>
            {
                format!(" id={id}")
            }
            _ => String::new(),
        }
    }
}

/// The body says no more than the status; a valid token's account, name
/// and id go in headers.
impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = reply(self.status());
        if let Answer::Verdict(Verdict::Valid { token, .. }) = &self {
            let out = response.headers_mut();
            for (name, value) in [
                ("x-token-account", &token.account),
                ("x-token-name", &token.name),
                ("x-token-id", &token.id),
            ] {
                if let Ok(value) = HeaderValue::from_str(value) {
                    out.insert(name, value);
                }
            }
        }
        response
    }
}

fn reply(status: StatusCode) -> Response {
    let body = match status {
        StatusCode::OK => "ok\n",
        StatusCode::UNAUTHORIZED => {
            return (
                status,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "unauthorized\n",
            )
                .into_response();
        }
        StatusCode::FORBIDDEN => "forbidden\n",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable\n",
        _ => "bad request\n",
    };
    (status, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(reason: Reason) -> Answer {
        Answer::Verdict(Verdict::Refused {
            reason,
            id: Some("AAAAAAAAAA".into()),
        })
    }

    #[test]
    fn a_refusal_is_401_naming_the_id_except_a_missing_privilege() {
        let wrong = refused(Reason::Unknown);
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            (wrong.label(), wrong.who().as_str()),
            ("unknown", " id=AAAAAAAAAA")
        );
        let cooling = refused(Reason::CoolingDown);
        assert_eq!(
            (cooling.label(), cooling.status()),
            ("cooldown", StatusCode::UNAUTHORIZED)
        );
        let forbidden = refused(Reason::Forbidden);
        assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            (forbidden.label(), forbidden.who().as_str()),
            ("forbidden", "")
        );
    }

    #[test]
    fn no_verdict_has_its_own_status() {
        assert_eq!(Answer::BadRequest.status(), StatusCode::BAD_REQUEST);
        assert_eq!(Answer::Missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(Answer::Missing.label(), "missing");
        let overloaded = Answer::Unavailable("overloaded");
        assert_eq!(overloaded.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(overloaded.label(), "overloaded");
    }
}
