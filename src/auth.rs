//! Who a request is and what it may do: the HTTP servers' accounts (the full `username` and
//! the optional `readonly_username`), the [`Access`] a request was let in with, and the one
//! constant-time comparison every secret check uses (basic-auth usernames and passwords,
//! plain or `{SHA}`, and the web page's action token).

use sha1::{Digest, Sha1};

use crate::config::Credentials;

/// What an authenticated request may do; the HTTP layer attaches it to every request it
/// lets in, and the handlers behind it (XML-RPC, the web page) act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Everything: the server's `username`, or any client of a server without auth.
    Full,
    /// `readonly_username`: status, logs, stats and metrics; anything that changes
    /// something is refused.
    ReadOnly,
}

/// The accounts of one HTTP server.
#[derive(Debug, Clone)]
pub struct Accounts {
    /// `username` / `password`: full access (a server may have tokens only).
    pub full: Option<Credentials>,
    /// `readonly_username` / `readonly_password`, if configured.
    pub readonly: Option<Credentials>,
    /// vigil: bearer tokens (`token_file`, `readonly_token_file`, `[metrics]
    /// bearer_token_file`) and the access each gives.
    pub tokens: Vec<(String, Access)>,
}

impl Accounts {
    /// The access `token` (an `Authorization: Bearer` credential) gives, or `None`. Every
    /// token is compared, so the time taken does not tell which came close.
    pub fn token_access(&self, token: &str) -> Option<Access> {
        let mut found = None;
        for (known, access) in &self.tokens {
            if same_secret(token.as_bytes(), known.as_bytes()) && found.is_none() {
                found = Some(*access);
            }
        }
        found
    }

    /// The access `user` with `password` has, or `None` for neither account. Both accounts
    /// are checked in full, so the time taken does not tell which part was wrong.
    pub fn access(&self, user: &str, password: &str) -> Option<Access> {
        let full = self
            .full
            .as_ref()
            .is_some_and(|account| is_account(account, user, password));
        let readonly = self
            .readonly
            .as_ref()
            .is_some_and(|account| is_account(account, user, password));
        if full {
            Some(Access::Full)
        } else if readonly {
            Some(Access::ReadOnly)
        } else {
            None
        }
    }
}

/// Whether `user`/`password` are `account`'s; both halves are always compared.
fn is_account(account: &Credentials, user: &str, password: &str) -> bool {
    // `&`, not `&&`: a right name with a wrong password takes as long as a wrong name.
    same_secret(user.as_bytes(), account.username.as_bytes())
        & password_matches(password, &account.password)
}

/// Whether `given` is the password `configured`, which is plain text or `{SHA}` + the hex
/// SHA-1 of the password (either case), compared in constant time.
pub fn password_matches(given: &str, configured: &str) -> bool {
    match configured.strip_prefix("{SHA}") {
        Some(hex) => {
            let digest = Sha1::digest(given.as_bytes());
            let given_hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            same_secret(given_hex.as_bytes(), hex.to_ascii_lowercase().as_bytes())
        }
        None => same_secret(given.as_bytes(), configured.as_bytes()),
    }
}

/// Whether `given` equals `expected`, in a time that depends only on the longer length, not
/// on where (or whether) they differ.
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let longest = given.len().max(expected.len());
    let mut differ = u8::from(given.len() != expected.len());
    for at in 0..longest {
        let a = given.get(at).copied().unwrap_or(0);
        let b = expected.get(at).copied().unwrap_or(0);
        differ |= a ^ b;
    }
    // Keeps the optimiser from turning the loop into an early exit.
    std::hint::black_box(differ) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_secret_is_equality() {
        assert!(same_secret(b"", b""));
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cret", b"s3creT"));
        assert!(!same_secret(b"s3cret", b"s3cre"), "a prefix");
        assert!(!same_secret(b"s3cre", b"s3cret"), "a longer secret");
        assert!(!same_secret(b"", b"x"));
        assert!(!same_secret(b"x\0", b"x"), "padding is not equality");
        assert!(!same_secret(b"x", b"x\0"));
    }

    #[test]
    fn plain_and_sha_passwords_match() {
        // sha1("thepassword")
        let configured = "{SHA}82ab876d1387bfafe46cc1c8a2ef074eae50cb1d";
        assert!(password_matches("thepassword", configured));
        assert!(password_matches(
            "thepassword",
            "{SHA}82AB876D1387BFAFE46CC1C8A2EF074EAE50CB1D"
        ));
        assert!(!password_matches("other", configured));
        assert!(!password_matches(
            "82ab876d1387bfafe46cc1c8a2ef074eae50cb1d",
            configured
        ));
        assert!(password_matches("plain", "plain"));
        assert!(!password_matches("plain", "plainer"));
        assert!(!password_matches("", "{SHA}"));
    }

    #[test]
    fn each_account_gets_its_access_and_nobody_else_any() {
        let account = |username: &str, password: &str| Credentials {
            username: username.into(),
            password: password.into(),
        };
        let accounts = Accounts {
            full: Some(account(
                "admin",
                "{SHA}82ab876d1387bfafe46cc1c8a2ef074eae50cb1d",
            )),
            readonly: Some(account("viewer", "look")),
            tokens: vec![
                ("t0ken".into(), Access::Full),
                ("l00k".into(), Access::ReadOnly),
            ],
        };
        assert_eq!(accounts.token_access("t0ken"), Some(Access::Full));
        assert_eq!(accounts.token_access("l00k"), Some(Access::ReadOnly));
        assert_eq!(accounts.token_access("t0ke"), None);
        assert_eq!(accounts.token_access(""), None);
        assert_eq!(accounts.access("admin", "thepassword"), Some(Access::Full));
        assert_eq!(accounts.access("viewer", "look"), Some(Access::ReadOnly));
        assert_eq!(accounts.access("viewer", "thepassword"), None);
        assert_eq!(accounts.access("admin", "look"), None);
        assert_eq!(accounts.access("", ""), None);
        let without = Accounts {
            readonly: None,
            ..accounts
        };
        assert_eq!(without.access("viewer", "look"), None);
        assert_eq!(without.access("admin", "thepassword"), Some(Access::Full));
    }
}
