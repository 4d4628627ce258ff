//! One sd_notify datagram (`sd_notify(3)`): newline-separated `KEY=VALUE` assignments, of
//! which vigil acts on `READY`, `RELOADING`, `STOPPING`, `STATUS`, `MAINPID` and
//! `WATCHDOG`; the others are ignored, as systemd ignores what it does not know. Pure: it
//! knows bytes, not processes.

/// The longest datagram taken; a longer one is ignored whole.
pub const MAX_MESSAGE: usize = 4096;
/// The longest `STATUS=` kept (longer text is cut at a character boundary).
const MAX_STATUS: usize = 256;

/// What one datagram says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Notice {
    /// `READY=1`: start-up (or a reload) is done.
    pub ready: bool,
    /// `RELOADING=1`: reloading its configuration, until the next `READY=1`.
    pub reloading: bool,
    /// `STOPPING=1`: shutting down on its own.
    pub stopping: bool,
    /// `STATUS=…`: free text for people.
    pub status: Option<String>,
    /// `MAINPID=n`: the pid that is the service now.
    pub mainpid: Option<i32>,
    /// `WATCHDOG=1`: a keep-alive.
    pub watchdog: bool,
}

/// Why a datagram is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Garbage {
    /// Longer than [`MAX_MESSAGE`].
    #[error("longer than {MAX_MESSAGE} bytes")]
    Oversized,
    /// Not UTF-8 text.
    #[error("not UTF-8")]
    NotUtf8,
}

/// Reads a datagram's assignments.
pub fn parse(bytes: &[u8]) -> Result<Notice, Garbage> {
    if bytes.len() > MAX_MESSAGE {
        return Err(Garbage::Oversized);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| Garbage::NotUtf8)?;
    let mut notice = Notice::default();
    for line in text.split('\n') {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key {
            "READY" => notice.ready = value == "1",
            "RELOADING" => notice.reloading = value == "1",
            "STOPPING" => notice.stopping = value == "1",
            "WATCHDOG" => notice.watchdog = value == "1",
            "STATUS" => notice.status = Some(cut(value, MAX_STATUS).to_string()),
            "MAINPID" => notice.mainpid = value.trim().parse().ok().filter(|pid| *pid > 0),
            _ => {}
        }
    }
    Ok(notice)
}

/// `text` cut to at most `bytes` bytes, at a character boundary.
fn cut(text: &str, bytes: usize) -> &str {
    if text.len() <= bytes {
        return text;
    }
    let mut end = bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_assignments_vigil_knows_and_ignores_the_rest() {
        let notice = parse(b"READY=1\nSTATUS=Listening on :8080\nFDSTORE=1\nMAINPID=42\nnonsense")
            .expect("parses");
        assert_eq!(
            notice,
            Notice {
                ready: true,
                status: Some("Listening on :8080".into()),
                mainpid: Some(42),
                ..Notice::default()
            }
        );
        let notice = parse(b"RELOADING=1\nSTOPPING=1\nWATCHDOG=1\nREADY=0").expect("parses");
        assert!(notice.reloading && notice.stopping && notice.watchdog && !notice.ready);
        assert_eq!(parse(b"MAINPID=-3").expect("parses").mainpid, None);
        assert_eq!(parse(b"").expect("parses"), Notice::default());
    }

    #[test]
    fn garbage_is_refused_and_long_status_is_cut_at_a_character() {
        assert_eq!(parse(&[b'x'; MAX_MESSAGE + 1]), Err(Garbage::Oversized));
        assert_eq!(parse(b"READY=1\n\xff\xfe"), Err(Garbage::NotUtf8));
        let long = format!("STATUS={}", "\u{e9}".repeat(200));
        let status = parse(long.as_bytes())
            .expect("parses")
            .status
            .expect("status");
        assert!(status.len() <= MAX_STATUS && status.chars().all(|c| c == '\u{e9}'));
        assert_eq!(status.chars().count(), MAX_STATUS / 2);
    }
}
