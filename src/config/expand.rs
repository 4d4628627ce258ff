//! `%(name)s` expansion with Python's `%`-formatting rules, as supervisord applies it to option
//! values (`%(ENV_HOME)s`, `%(process_num)02d`, `%%` for a literal percent sign).

use std::collections::BTreeMap;

/// A value that an expansion name stands for: supervisord passes strings and integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameValue {
    /// Used by `%(x)s`.
    Text(String),
    /// Used by `%(x)d` and `%(x)02d` (and `%(x)s`, which prints the decimal).
    Number(i64),
}

/// The names an option may use, e.g. `here`, `program_name`, `ENV_PATH`.
#[derive(Debug, Clone, Default)]
pub struct Names(BTreeMap<String, NameValue>);

impl Names {
    /// Adds or replaces a text name.
    pub fn text(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.0
            .insert(name.to_string(), NameValue::Text(value.into()));
        self
    }

    /// Adds or replaces an integer name.
    pub fn number(&mut self, name: &str, value: i64) -> &mut Self {
        self.0.insert(name.to_string(), NameValue::Number(value));
        self
    }

    /// Adds `ENV_<KEY>` for every pair.
    pub fn environment<'a>(
        &mut self,
        vars: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> &mut Self {
        for (key, value) in vars {
            self.text(&format!("ENV_{key}"), value.clone());
        }
        self
    }

    fn available(&self) -> String {
        self.0.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Why a `%(name)s` expansion failed, in supervisord's words where it has them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// A `%` followed by neither `%` nor `(`.
    #[error("'{0}' has a '%' that is not an expansion (write %% for a literal %)")]
    NotAnExpansion(String),
    /// A `%(` without its `)`.
    #[error("'{0}' has an unterminated %( expansion")]
    Unterminated(String),
    /// A conversion vigil does not know after `%(name)`.
    #[error("'{text}' has an incomplete or unsupported format after %({name})")]
    BadFormat {
        /// The whole value.
        text: String,
        /// The name before the format.
        name: String,
    },
    /// `%(name)d` of a name whose value is text.
    #[error("%({0}): a number is required, not text")]
    NeedsNumber(String),
    /// Names that are not defined here.
    #[error("format string '{text}' contains names ({unknown}) which cannot be expanded. Available names: {available}")]
    UnknownNames {
        /// The whole value.
        text: String,
        /// The unknown names, comma-separated.
        unknown: String,
        /// The names there are, comma-separated.
        available: String,
    },
}

/// Expands every `%(name)…` in `text`; an unknown name gives supervisord's message listing the
/// names that are available.
pub fn expand(text: &str, names: &Names) -> Result<String, ExpandError> {
    if !text.contains('%') {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut unknown: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let spec = &rest[pos + 1..];
        if let Some(after) = spec.strip_prefix('%') {
            out.push('%');
            rest = after;
            continue;
        }
        let Some(inner) = spec.strip_prefix('(') else {
            return Err(ExpandError::NotAnExpansion(text.to_string()));
        };
        let Some(close) = inner.find(')') else {
            return Err(ExpandError::Unterminated(text.to_string()));
        };
        let name = &inner[..close];
        let (format, consumed) =
            parse_format(&inner[close + 1..]).ok_or_else(|| ExpandError::BadFormat {
                text: text.to_string(),
                name: name.to_string(),
            })?;
        match names.0.get(name) {
            Some(value) => out.push_str(
                &format
                    .apply(value)
                    .ok_or_else(|| ExpandError::NeedsNumber(name.to_string()))?,
            ),
            None => unknown.push(name.to_string()),
        }
        rest = &inner[close + 1 + consumed..];
    }
    out.push_str(rest);
    if unknown.is_empty() {
        Ok(out)
    } else {
        Err(ExpandError::UnknownNames {
            text: text.to_string(),
            unknown: unknown.join(", "),
            available: names.available(),
        })
    }
}

/// One conversion such as `s`, `d` or `02d`.
struct Format {
    left: bool,
    zero: bool,
    width: usize,
    conversion: char,
}

fn parse_format(spec: &str) -> Option<(Format, usize)> {
    let mut format = Format {
        left: false,
        zero: false,
        width: 0,
        conversion: 's',
    };
    let mut chars = spec.char_indices();
    for (index, c) in chars.by_ref() {
        match c {
            '-' => format.left = true,
            '0' if format.width == 0 => format.zero = true,
            '+' | ' ' | '#' => {}
            d if d.is_ascii_digit() => {
                format.width = format.width * 10 + (d as usize - '0' as usize);
            }
            's' | 'r' | 'd' | 'i' | 'u' => {
                format.conversion = c;
                return Some((format, index + 1));
            }
            _ => return None,
        }
    }
    None
}

impl Format {
    /// The value formatted; `None` when the conversion needs a number and it is text.
    fn apply(&self, value: &NameValue) -> Option<String> {
        let body = match (self.conversion, value) {
            ('s', NameValue::Text(text)) => text.clone(),
            ('r', NameValue::Text(text)) => format!("'{text}'"),
            (_, NameValue::Number(number)) => number.to_string(),
            (_, NameValue::Text(_)) => return None,
        };
        let pad = self.width.saturating_sub(body.chars().count());
        Some(if self.left {
            format!("{body}{}", " ".repeat(pad))
        } else if self.zero && matches!(value, NameValue::Number(_)) {
            match body.strip_prefix('-') {
                Some(digits) => format!("-{}{digits}", "0".repeat(pad)),
                None => format!("{}{body}", "0".repeat(pad)),
            }
        } else {
            format!("{}{body}", " ".repeat(pad))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        let mut names = Names::default();
        names
            .text("program_name", "web")
            .number("process_num", 3)
            .text("ENV_HOME", "/root");
        names
    }

    #[test]
    fn expands_text_and_numbers() {
        let names = names();
        assert_eq!(
            expand("%(program_name)s_%(process_num)02d", &names).as_deref(),
            Ok("web_03")
        );
        assert_eq!(expand("%(process_num)d", &names).as_deref(), Ok("3"));
        assert_eq!(expand("%(process_num)s", &names).as_deref(), Ok("3"));
        assert_eq!(expand("%(ENV_HOME)s/x", &names).as_deref(), Ok("/root/x"));
        assert_eq!(expand("100%%", &names).as_deref(), Ok("100%"));
        assert_eq!(
            expand("no expansion", &names).as_deref(),
            Ok("no expansion")
        );
    }

    #[test]
    fn unknown_names_list_the_available_ones() {
        let err = expand("%(nope)s", &names())
            .expect_err("unknown name")
            .to_string();
        assert!(err.contains("contains names (nope)"), "{err}");
        assert!(
            err.contains("Available names: ENV_HOME, process_num, program_name"),
            "{err}"
        );
    }

    #[test]
    fn malformed_formats_are_errors() {
        assert!(expand("50%", &names()).is_err());
        assert!(expand("%(program_name", &names()).is_err());
        assert!(expand("%(program_name)d", &names()).is_err());
    }
}
