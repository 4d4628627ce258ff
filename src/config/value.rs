//! Parsers for supervisord's value syntax (booleans, byte sizes, octal modes, signals,
//! exit codes, `K="v"` dictionaries, …).
//!
//! Each parser takes the already-expanded text of one option and returns the typed value or a
//! short reason; the caller adds the file, section, option and value to the reason.

use nix::sys::signal::Signal;

use super::invalid::Invalid;
use super::{Compress, RotateEvery};

/// `yes/true/on/1` or `no/false/off/0`, case-insensitive, as supervisord's `boolean()`.
pub fn boolean(text: &str) -> Result<bool, Invalid> {
    match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(Invalid::NotBoolean),
    }
}

/// vigil's `*_logfile_format`: `plain` (false) or `json` (true).
pub fn json_format(text: &str) -> Result<bool, Invalid> {
    match text.trim().to_ascii_lowercase().as_str() {
        "plain" => Ok(false),
        "json" => Ok(true),
        _ => Err(Invalid::NotLogFormat),
    }
}

/// vigil's `*_logfile_compress`: `gzip` or `zstd`.
pub fn compress(text: &str) -> Result<Compress, Invalid> {
    match text.trim().to_ascii_lowercase().as_str() {
        "gzip" => Ok(Compress::Gzip),
        "zstd" => Ok(Compress::Zstd),
        _ => Err(Invalid::NotCompression),
    }
}

/// vigil's `*_logfile_rotate`: `daily` or `hourly`.
pub fn rotate_every(text: &str) -> Result<RotateEvery, Invalid> {
    match text.trim().to_ascii_lowercase().as_str() {
        "daily" => Ok(RotateEvery::Daily),
        "hourly" => Ok(RotateEvery::Hourly),
        _ => Err(Invalid::NotRotationPeriod),
    }
}

/// A decimal integer as Python's `int()` reads it (surrounding blanks and `_` separators allowed).
pub fn integer(text: &str) -> Result<i64, Invalid> {
    let trimmed = text.trim();
    let digits = trimmed.replace('_', "");
    digits.parse::<i64>().map_err(|_| Invalid::NotInteger)
}

/// A non-negative integer that fits the target type (seconds, counts).
pub fn count<T: TryFrom<i64>>(text: &str) -> Result<T, Invalid> {
    let value = integer(text)?;
    if value < 0 {
        return Err(Invalid::Negative);
    }
    T::try_from(value).map_err(|_| Invalid::TooLarge)
}

/// A byte size: `N`, `NKB`, `NMB` or `NGB` (1024-based, case-insensitive).
pub fn byte_size(text: &str) -> Result<u64, Invalid> {
    let lowered = text.trim().to_ascii_lowercase();
    let (digits, factor) = [("kb", 1u64 << 10), ("mb", 1 << 20), ("gb", 1 << 30)]
        .iter()
        .find_map(|(suffix, factor)| lowered.strip_suffix(suffix).map(|d| (d, *factor)))
        .unwrap_or((lowered.as_str(), 1));
    let number: u64 = digits.trim().parse().map_err(|_| Invalid::NotByteSize)?;
    number.checked_mul(factor).ok_or(Invalid::ByteSizeTooLarge)
}

/// A non-negative number of seconds, whole or decimal (`5`, `0.5`).
pub fn seconds(text: &str) -> Result<std::time::Duration, Invalid> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(|value| std::time::Duration::try_from_secs_f64(value).ok())
        .ok_or(Invalid::NotSeconds)
}

/// An octal mode or umask such as `022` or `0700`.
pub fn octal(text: &str) -> Result<u32, Invalid> {
    let trimmed = text.trim();
    let digits = trimmed
        .strip_prefix("0o")
        .or_else(|| trimmed.strip_prefix("0O"))
        .unwrap_or(trimmed);
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|mode| *mode <= 0o7777)
        .ok_or(Invalid::NotOctal)
}

/// A signal given as `TERM`, `SIGTERM`, `term` or a number; it must be a real signal.
pub fn signal(text: &str) -> Result<Signal, Invalid> {
    let trimmed = text.trim();
    if let Ok(number) = trimmed.parse::<i32>() {
        return Signal::try_from(number).map_err(|_| Invalid::NotSignalNumber);
    }
    let upper = trimmed.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map_err(|_| Invalid::NotSignalName)
}

/// A comma-separated list of exit codes in 0..=255.
pub fn exit_codes(text: &str) -> Result<Vec<i32>, Invalid> {
    list(text)
        .iter()
        .map(|item| match item.parse::<i32>() {
            Ok(code) if (0..=255).contains(&code) => Ok(code),
            _ => Err(Invalid::NotExitCode(item.clone())),
        })
        .collect()
}

/// A comma-separated list of strings, items stripped, empty items dropped.
pub fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// `K="v",K2=v2` pairs, tokenized as supervisord's `dict_of_key_value_pairs` does (Python's
/// non-POSIX `shlex` with `/.+-():` added to the word characters). Order is kept.
pub fn key_value_pairs(text: &str) -> Result<Vec<(String, String)>, Invalid> {
    let tokens = shlex_tokens(text)?;
    let mut pairs = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        match tokens.get(index..index + 3) {
            Some([key, eq, value]) if eq == "=" => {
                let value = value.trim_matches(|c| c == '\'' || c == '"');
                pairs.push((key.clone(), value.to_string()));
            }
            _ => return Err(Invalid::UnfinishedPairs),
        }
        index += 4;
    }
    Ok(pairs)
}

/// Python's non-POSIX `shlex.shlex` tokenizer as supervisord configures it.
fn shlex_tokens(text: &str) -> Result<Vec<String>, Invalid> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || "/.+-():".contains(c);
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c == '#' {
            // shlex treats `#` as the start of a comment running to the end of the line.
            for rest in chars.by_ref() {
                if rest == '\n' {
                    break;
                }
            }
            continue;
        }
        if c == '"' || c == '\'' {
            let mut token = String::from(c);
            let mut closed = false;
            for next in chars.by_ref() {
                token.push(next);
                if next == c {
                    closed = true;
                    break;
                }
            }
            if !closed {
                return Err(Invalid::NoClosingQuotation);
            }
            tokens.push(token);
            continue;
        }
        if is_word(c) {
            let mut token = String::from(c);
            while let Some(&next) = chars.peek() {
                if is_word(next) || next == '"' || next == '\'' {
                    token.push(next);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(token);
            continue;
        }
        tokens.push(c.to_string());
    }
    Ok(tokens)
}

/// Lines of `KEY=VALUE` from an environment file: blank lines and `#` comments are skipped,
/// an optional `export ` prefix is allowed, and one level of matching quotes is removed.
pub fn environment_file(text: &str) -> Result<Vec<(String, String)>, Invalid> {
    let mut pairs = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(Invalid::NotKeyValue { line: number + 1 });
        };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(Invalid::NotVariableName {
                line: number + 1,
                key: key.to_string(),
            });
        }
        let value = value.trim();
        let unquoted = ['"', '\'']
            .iter()
            .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
            .unwrap_or(value);
        pairs.push((key.to_string(), unquoted.to_string()));
    }
    Ok(pairs)
}

/// A process or group name: no blanks, `:` or `/`, as supervisord's `process_or_group_name`.
pub fn name(text: &str) -> Result<String, Invalid> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.contains(|c: char| c.is_whitespace() || c == ':' || c == '/') {
        return Err(Invalid::BadName);
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_follow_supervisord() {
        for yes in ["yes", "TRUE", "on", "1"] {
            assert_eq!(boolean(yes), Ok(true));
        }
        for no in ["no", "False", "OFF", "0"] {
            assert_eq!(boolean(no), Ok(false));
        }
        assert!(boolean("maybe").is_err());
    }

    #[test]
    fn byte_sizes_are_1024_based() {
        assert_eq!(byte_size("0"), Ok(0));
        assert_eq!(byte_size("1024"), Ok(1024));
        assert_eq!(byte_size("50MB"), Ok(50 << 20));
        assert_eq!(byte_size("2kb"), Ok(2048));
        assert_eq!(byte_size("1GB"), Ok(1 << 30));
        assert!(byte_size("12XB").is_err());
    }

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(signal("TERM"), Ok(Signal::SIGTERM));
        assert_eq!(signal("sigint"), Ok(Signal::SIGINT));
        assert_eq!(signal("9"), Ok(Signal::SIGKILL));
        assert!(signal("NOPE").is_err());
        assert!(signal("999").is_err());
    }

    #[test]
    fn octal_modes() {
        assert_eq!(octal("022"), Ok(0o22));
        assert_eq!(octal("0700"), Ok(0o700));
        assert!(octal("9").is_err());
    }

    #[test]
    fn exit_code_lists() {
        assert_eq!(exit_codes("0, 2"), Ok(vec![0, 2]));
        assert!(exit_codes("0,256").is_err());
        assert!(exit_codes("x").is_err());
    }

    #[test]
    fn key_value_pairs_like_supervisord() {
        let pairs = key_value_pairs(r#"A="1 2",B=/usr/bin:/bin,C='x'"#).expect("valid");
        assert_eq!(
            pairs,
            vec![
                ("A".into(), "1 2".into()),
                ("B".into(), "/usr/bin:/bin".into()),
                ("C".into(), "x".into())
            ]
        );
        assert!(key_value_pairs("A=").is_err());
        assert!(key_value_pairs("A=1,B").is_err());
        assert_eq!(key_value_pairs(""), Ok(vec![]));
    }

    #[test]
    fn environment_files() {
        let pairs = environment_file("# comment\n\nA=1\nexport B=\"two words\"\n").expect("valid");
        assert_eq!(
            pairs,
            vec![("A".into(), "1".into()), ("B".into(), "two words".into())]
        );
        assert!(environment_file("JUSTAWORD").is_err());
    }

    #[test]
    fn names_reject_separators() {
        assert!(name("web").is_ok());
        assert!(name("a b").is_err());
        assert!(name("a:b").is_err());
        assert!(name("a/b").is_err());
    }
}
