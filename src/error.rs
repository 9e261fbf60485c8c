//! Error kinds and the exit codes the README ("Exit codes") assigns to them, in one place.

use std::fmt;
use std::process::ExitCode;

/// What went wrong, as far as the caller's exit code is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1: store unreadable, I/O, suspended account, ...
    Runtime,
    /// 2: bad flag or value.
    Usage,
    /// 3: token or account not found.
    NotFound,
    /// 4: name in use, revoked token edited, file exists.
    Conflict,
    /// 5: a token failed verification.
    VerifyFailed,
    /// 6: a confirmation was declined or could not be asked.
    Aborted,
}

impl Kind {
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Runtime => 1,
            Kind::Usage => 2,
            Kind::NotFound => 3,
            Kind::Conflict => 4,
            Kind::VerifyFailed => 5,
            Kind::Aborted => 6,
        }
    }
}

impl From<Kind> for ExitCode {
    fn from(kind: Kind) -> Self {
        ExitCode::from(kind.exit_code())
    }
}

/// An error a user can act on: one line saying what was wrong, and an
/// optional hint saying how to fix it.
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(Kind::Usage, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(Kind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Error::new(Kind::Conflict, message)
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        Error::new(Kind::Runtime, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
