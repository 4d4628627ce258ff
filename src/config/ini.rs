//! Reading the INI text: comments are removed with Python configparser's rules (a `;` or `#`
//! at the start of a line, or after a blank, starts a comment), rust-ini splits sections,
//! keys and indented continuation lines, a line scan records where each section and option
//! is, and `[include] files=` pulls in more files. The result is a [`RawDoc`] of untyped
//! sections.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ini::{Ini, ParseOption};

use super::diagnostic::{Diagnostic, Location};
use super::expand::{expand, Names};

/// One `key = value` as written (value already stripped of comments, continuation joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOption {
    /// Option name, lowercased as Python's configparser does.
    pub key: String,
    /// Value text before `%(...)s` expansion.
    pub value: String,
    /// 1-based line where the option was (last) written.
    pub line: Option<usize>,
}

/// One section with all of its options; duplicate sections are merged, the last value wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSection {
    /// Section name as written, e.g. `program:web`.
    pub name: String,
    /// File that (last) defined the section; `%(here)s` is its directory.
    pub file: PathBuf,
    /// Line of the section header.
    pub line: Option<usize>,
    /// Options in first-seen order.
    pub options: Vec<RawOption>,
}

impl RawSection {
    /// The option named `key`, if present.
    pub fn get(&self, key: &str) -> Option<&RawOption> {
        self.options.iter().find(|option| option.key == key)
    }

    /// A location for this section, optionally narrowed to one of its options.
    pub fn location(&self, option: Option<&RawOption>) -> Location {
        Location {
            file: self.file.clone(),
            line: option.and_then(|o| o.line).or(self.line),
            section: Some(self.name.clone()),
            option: option.map(|o| o.key.clone()),
            value: option.map(|o| o.value.clone()),
        }
    }

    /// The directory `%(here)s` stands for in this section.
    pub fn here(&self) -> PathBuf {
        self.file
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }

    fn merge(&mut self, other: RawSection) {
        self.file = other.file;
        for option in other.options {
            self.set(option);
        }
    }

    /// Sets an option, replacing one of the same name.
    pub fn set(&mut self, option: RawOption) {
        match self.options.iter_mut().find(|o| o.key == option.key) {
            Some(existing) => *existing = option,
            None => self.options.push(option),
        }
    }
}

/// All sections of the main file and its includes, in first-seen order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawDoc {
    /// The sections.
    pub sections: Vec<RawSection>,
}

impl RawDoc {
    /// The section named exactly `name`.
    pub fn section(&self, name: &str) -> Option<&RawSection> {
        self.sections.iter().find(|s| s.name == name)
    }

    fn add(&mut self, section: RawSection) {
        match self.sections.iter_mut().find(|s| s.name == section.name) {
            Some(existing) => existing.merge(section),
            None => self.sections.push(section),
        }
    }
}

/// Reads `path` and the files its `[include]` names. Includes inside included files are
/// ignored, as in supervisord. Returns the document and the warnings (globs with no match).
pub fn read(path: &Path, base_names: &Names) -> Result<(RawDoc, Vec<Diagnostic>), Diagnostic> {
    let mut doc = RawDoc::default();
    let mut warnings = Vec::new();
    for section in read_file(path)? {
        doc.add(section);
    }
    let Some(include) = doc.section("include").cloned() else {
        return Ok((doc, warnings));
    };
    let Some(files) = include.get("files") else {
        return Err(Diagnostic::new(
            include.location(None),
            ".ini file has [include] section, but no files setting",
        ));
    };
    let here = include.here();
    let mut names = base_names.clone();
    names.text("here", here.to_string_lossy());
    let patterns = expand(&files.value, &names)
        .map_err(|why| Diagnostic::new(include.location(Some(files)), why.to_string()))?;
    for pattern in patterns.split_whitespace() {
        let absolute = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            here.join(pattern)
        };
        // Like Python's glob, `*` does not match a leading dot (editor backups, `.#x.conf`).
        let options = glob::MatchOptions {
            require_literal_leading_dot: true,
            ..glob::MatchOptions::new()
        };
        let matches = glob::glob_with(&absolute.to_string_lossy(), options).map_err(|err| {
            Diagnostic::new(
                include.location(Some(files)),
                format!("bad glob '{pattern}': {err}"),
            )
        })?;
        let mut found: Vec<PathBuf> = matches.filter_map(Result::ok).collect();
        found.sort();
        if found.is_empty() {
            warnings.push(Diagnostic::new(
                include.location(Some(files)),
                format!("no file matches via include \"{}\"", absolute.display()),
            ));
        }
        for file in found {
            for section in read_file(&file)? {
                if section.name != "include" {
                    doc.add(section);
                }
            }
        }
    }
    Ok((doc, warnings))
}

/// Reads and parses one file.
fn read_file(path: &Path) -> Result<Vec<RawSection>, Diagnostic> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        Diagnostic::new(
            Location::file(path),
            format!("could not read config file: {err}"),
        )
    })?;
    parse_str(&text, path)
}

/// Parses INI text that came from `file` (used in messages and for `%(here)s`).
pub fn parse_str(text: &str, file: &Path) -> Result<Vec<RawSection>, Diagnostic> {
    let options = ParseOption {
        enabled_quote: false,
        enabled_escape: false,
        enabled_indented_mutiline_value: true,
        enabled_preserve_key_leading_whitespace: false,
    };
    let (uncommented, original_lines) = strip_comments(text);
    let ini = Ini::load_from_str_opt(&uncommented, options).map_err(|err| {
        let line = original_lines
            .get(err.line.saturating_sub(1))
            .or(original_lines.last())
            .copied();
        Diagnostic::new(
            Location {
                line,
                ..Location::file(file)
            },
            format!("file contains parsing errors: {}", err.msg),
        )
    })?;
    let lines = LineIndex::scan(text);
    let mut sections: Vec<RawSection> = Vec::new();
    for (name, properties) in &ini {
        let Some(name) = name else {
            if !properties.is_empty() {
                return Err(Diagnostic::new(
                    Location {
                        line: Some(1),
                        ..Location::file(file)
                    },
                    "file contains no section headers",
                ));
            }
            continue;
        };
        let mut section = RawSection {
            name: name.to_string(),
            file: file.to_path_buf(),
            line: lines.section(name),
            options: Vec::new(),
        };
        for (key, value) in properties {
            let key = key.to_ascii_lowercase();
            let line = lines.option(name, &key);
            section.set(RawOption {
                key,
                value: value.to_string(),
                line,
            });
        }
        match sections.iter_mut().find(|s| s.name == section.name) {
            Some(existing) => existing.merge(section),
            None => sections.push(section),
        }
    }
    Ok(sections)
}

/// Prepares the text as configparser reads it, for rust-ini: comments are removed
/// (`inline_comment_prefixes=(';', '#')`: lines whose first non-blank character is `;` or
/// `#` are dropped, and a `;` or `#` at the start of a line or after a blank ends the line),
/// and a line continues the previous value only when it is indented more than that value's
/// key (other lines lose their indentation, so uniformly indented options stay separate).
/// Returns the text and, per kept line, its original 1-based line number.
fn strip_comments(text: &str) -> (String, Vec<usize>) {
    let mut kept = String::with_capacity(text.len());
    let mut lines = Vec::new();
    let mut key_indent: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with([';', '#']) {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let continues = key_indent.is_some_and(|key| indent > key) && !line.trim().is_empty();
        let line = if continues || line.trim().is_empty() {
            line
        } else {
            key_indent = (!line.trim_start().starts_with('[')).then_some(indent);
            line.trim_start()
        };
        let mut end = line.len();
        let mut previous_blank = true;
        for (at, c) in line.char_indices() {
            if (c == ';' || c == '#') && previous_blank {
                end = at;
                break;
            }
            previous_blank = c.is_whitespace();
        }
        kept.push_str(line[..end].trim_end());
        kept.push('\n');
        lines.push(index + 1);
    }
    (kept, lines)
}

/// Lines of section headers and option names, found by scanning the text, because rust-ini
/// reports positions only for syntax errors.
struct LineIndex {
    sections: HashMap<String, usize>,
    options: HashMap<(String, String), usize>,
}

impl LineIndex {
    fn scan(text: &str) -> Self {
        let mut index = LineIndex {
            sections: HashMap::new(),
            options: HashMap::new(),
        };
        let mut current = String::new();
        for (number, line) in text.lines().enumerate() {
            let number = number + 1;
            if line.starts_with(char::is_whitespace) || line.starts_with([';', '#']) {
                continue;
            }
            if let Some(header) = line.strip_prefix('[') {
                if let Some(end) = header.find(']') {
                    current = header[..end].trim().to_string();
                    index.sections.entry(current.clone()).or_insert(number);
                }
                continue;
            }
            if let Some(end) = line.find(['=', ':']) {
                let key = line[..end].trim().to_ascii_lowercase();
                index.options.insert((current.clone(), key), number);
            }
        }
        index
    }

    fn section(&self, name: &str) -> Option<usize> {
        self.sections.get(name).copied()
    }

    fn option(&self, section: &str, key: &str) -> Option<usize> {
        self.options
            .get(&(section.to_string(), key.to_string()))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<RawSection> {
        parse_str(text, Path::new("/etc/test.conf")).expect("parses")
    }

    #[test]
    fn inline_comments_after_blank_are_stripped() {
        let sections = parse("[program:a]\ncommand=/bin/cat ; a comment\nx=a;b\n");
        let program = &sections[0];
        assert_eq!(
            program.get("command").map(|o| o.value.as_str()),
            Some("/bin/cat")
        );
        assert_eq!(program.get("x").map(|o| o.value.as_str()), Some("a;b"));
    }

    #[test]
    fn comment_lines_inside_values_are_skipped() {
        let sections = parse("[program:a]\ncommand=/bin/cat ; c\nenvironment=A=1,\n  ; note\n  B=2\n# x\nuser=nobody\n");
        let program = &sections[0];
        assert_eq!(
            program.get("environment").map(|o| o.value.as_str()),
            Some("A=1,\nB=2")
        );
        assert_eq!(
            program.get("user").map(|o| o.value.as_str()),
            Some("nobody")
        );
    }

    #[test]
    fn only_deeper_indentation_continues_a_value() {
        let sections = parse("[program:a]\n  command=/bin/cat\n  autostart=false\n    more\n");
        let program = &sections[0];
        assert_eq!(
            program.get("command").map(|o| o.value.as_str()),
            Some("/bin/cat")
        );
        assert_eq!(
            program.get("autostart").map(|o| o.value.as_str()),
            Some("false\nmore")
        );
    }

    #[test]
    fn syntax_errors_name_the_original_line() {
        let err =
            parse_str("; c\n\n[a]\nno delimiter here\n", Path::new("/x.conf")).expect_err("bad");
        assert_eq!(err.location.line, Some(4));
    }

    #[test]
    fn continuation_lines_join_with_newlines() {
        let sections = parse("[supervisord]\nenvironment=A=1,\n  B=2\nlogfile=/tmp/x\n");
        let value = sections[0].get("environment").map(|o| o.value.clone());
        assert_eq!(value.as_deref(), Some("A=1,\nB=2"));
        assert_eq!(
            sections[0].get("logfile").map(|o| o.value.as_str()),
            Some("/tmp/x")
        );
    }

    #[test]
    fn duplicate_sections_merge_and_last_value_wins() {
        let sections = parse("[program:a]\ncommand=one\nPriority=5\n[program:a]\ncommand=two\n");
        assert_eq!(sections.len(), 1);
        let program = &sections[0];
        assert_eq!(
            program.get("command").map(|o| o.value.as_str()),
            Some("two")
        );
        assert_eq!(program.get("priority").map(|o| o.value.as_str()), Some("5"));
        assert_eq!(program.get("command").and_then(|o| o.line), Some(5));
    }

    #[test]
    fn keys_are_lowercased_and_located() {
        let sections = parse("; head\n[program:a]\nCommand = /bin/true\n");
        let option = sections[0].get("command").expect("command");
        assert_eq!(option.line, Some(3));
        assert_eq!(sections[0].line, Some(2));
    }
}
