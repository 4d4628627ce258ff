//! Located config errors and warnings: every message names the file, line, section, option and
//! value it is about, so an operator can go straight to the line.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in the config text a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file that holds the section (the main file or an included one).
    pub file: PathBuf,
    /// 1-based line of the option (or of the section header), when known.
    pub line: Option<usize>,
    /// The section name as written, e.g. `program:web`.
    pub section: Option<String>,
    /// The option name, lowercased as supervisord reads it.
    pub option: Option<String>,
    /// The raw value as written in the file.
    pub value: Option<String>,
}

impl Location {
    /// A location for a whole file (missing file, unreadable include).
    pub fn file(path: &Path) -> Self {
        Location {
            file: path.to_path_buf(),
            line: None,
            section: None,
            option: None,
            value: None,
        }
    }
}

/// One config problem: an error stops the load, a warning is only reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where it is (boxed: diagnostics travel in `Result`s and should stay small).
    pub location: Box<Location>,
    /// What is wrong, without the location.
    pub message: String,
}

impl Diagnostic {
    /// A problem at `location`.
    pub fn new(location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            location: Box::new(location),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loc = &self.location;
        write!(f, "{}", loc.file.display())?;
        if let Some(line) = loc.line {
            write!(f, ":{line}")?;
        }
        if let Some(section) = &loc.section {
            write!(f, ": [{section}]")?;
            match (&loc.option, &loc.value) {
                (Some(option), Some(value)) => {
                    write!(f, " {option}={}", value.replace('\n', "\\n"))?;
                }
                (Some(option), None) => write!(f, " {option}")?,
                _ => {}
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Every error found while loading a config, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<Diagnostic>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, diagnostic) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
