//! Asking the user on the terminal: passphrases of encrypted SSH keys and age identity files, and
//! what age plugins ask for. As in sops (and age), the prompt goes to `/dev/tty`, not to stdout
//! or stderr, so it works while the output is piped; without a terminal it is a clear error.

use std::io;

use age_core::secrecy::SecretString;

/// Reads a passphrase for `what` (a file path, a plugin) from the terminal, without echo.
pub(crate) fn read(prompt: &str, what: &str) -> io::Result<SecretString> {
    rpassword::prompt_password(format!("{prompt} "))
        .map(SecretString::from)
        .map_err(|e| {
            io::Error::other(format!(
                "cannot ask for the passphrase of {what}: no terminal to ask on ({e}); run \
                 on a terminal, or use a key that has no passphrase"
            ))
        })
}

/// age's user interface for plugins: messages to stderr, passphrases and answers from the
/// terminal. Without a terminal a request gets no answer, which the plugin reports.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TerminalCallbacks;

impl age::Callbacks for TerminalCallbacks {
    fn display_message(&self, message: &str) {
        eprintln!("age plugin: {message}");
    }

    fn confirm(&self, message: &str, yes_string: &str, no_string: Option<&str>) -> Option<bool> {
        let question = match no_string {
            Some(no) => format!("{message} (type \"{yes_string}\" or \"{no}\"):"),
            None => format!("{message} (press enter for \"{yes_string}\"):"),
        };
        let answer = rpassword::prompt_password(format!("{question} ")).ok()?;
        Some(no_string.is_none() || answer.trim() == yes_string)
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        rpassword::prompt_password(format!("{description} ")).ok()
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        read(description, "an age plugin").ok()
    }
}
