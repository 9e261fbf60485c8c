//! Who runs tokenctl, as the operating system knows them: the login name
//! (the default acting account) and the actor recorded in the audit trail.

use std::ffi::CStr;
use std::sync::OnceLock;

/// Who made a change, for the audit trail: the OS user of the real uid,
/// and the sudo caller when there is one. Not an account name.
pub fn actor() -> String {
    // Once per process: revoke-all writes an event per token.
    static ACTOR: OnceLock<String> = OnceLock::new();
    ACTOR.get_or_init(os_actor).clone()
}

/// The login name: `USER`, then `LOGNAME`, then the real uid's user name
/// (containers, cron and systemd units often set neither variable).
pub fn login_name() -> Option<String> {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .or_else(|| real_user_name().ok())
}

/// The user name of the real uid, or the uid when it has none.
fn real_user_name() -> std::result::Result<String, libc::uid_t> {
    // SAFETY: getuid cannot fail and has no preconditions.
    let uid = unsafe { libc::getuid() };
    user_name(uid).ok_or(uid)
}

fn os_actor() -> String {
    let name = real_user_name().unwrap_or_else(|uid| format!("uid {uid}"));
    match std::env::var("SUDO_USER") {
        // The actor is kept in the audit trail: a token pasted into
        // SUDO_USER must not be stored with it.
        Ok(sudo) if !sudo.is_empty() && sudo != name => {
            format!("{name} (sudo: {})", crate::token::redact(&sudo))
        }
        _ => name,
    }
}

fn user_name(uid: libc::uid_t) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into `pwd` and `buf`, both owned here and
    // large enough by construction; `result` is non-null only on success.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points to a NUL-terminated string in `buf`.
    let name = unsafe { CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}
