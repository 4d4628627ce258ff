//! supervisord's namespecs: `group:name` names one process, `group:*` (or `group:`) a whole
//! group, and a bare `name` the process of the group of the same name. This module owns the
//! parsing and the display, for the RPC methods, `vigilctl`, the web page and `/logtail`
//! alike (supervisord's `split_namespec` and `make_namespec`). It knows no process table:
//! whether a name exists is for the caller to find out.

use std::fmt;

/// A parsed namespec: one process, or every process of a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Namespec {
    /// `group:name`, or `name` for the process of the group of the same name.
    Process {
        /// The group.
        group: String,
        /// The process in it.
        name: String,
    },
    /// `group:*` or `group:`: every process of the group.
    Group(String),
}

impl Namespec {
    /// Splits `text` as supervisord does: everything before the first `:` is the group;
    /// after it, `*` or nothing means the whole group, anything else (colons included) is the
    /// process name; without a `:`, group and name are both `text`. Never fails: an unknown
    /// or odd name is a BAD_NAME for whoever looks it up.
    pub fn parse(text: &str) -> Self {
        match text.split_once(':') {
            Some((group, "" | "*")) => Namespec::Group(group.to_string()),
            Some((group, name)) => Namespec::Process {
                group: group.to_string(),
                name: name.to_string(),
            },
            None => Namespec::Process {
                group: text.to_string(),
                name: text.to_string(),
            },
        }
    }

    /// The group named (the process's own group for a process).
    pub fn group(&self) -> &str {
        match self {
            Namespec::Process { group, .. } | Namespec::Group(group) => group,
        }
    }

    /// The process named, or `None` for a whole group.
    pub fn name(&self) -> Option<&str> {
        match self {
            Namespec::Process { name, .. } => Some(name),
            Namespec::Group(_) => None,
        }
    }

    /// Whether the process `group`/`name` is this one, or in this group.
    pub fn matches(&self, group: &str, name: &str) -> bool {
        self.group() == group && self.name().is_none_or(|own| own == name)
    }

    /// How supervisorctl names what this spec stands for in a result line: the process's
    /// namespec, or the bare group name for a whole group.
    pub fn label(&self) -> String {
        of(self.group(), self.name().unwrap_or(self.group()))
    }
}

impl fmt::Display for Namespec {
    /// `name` when group and name are equal, else `group:name`; `group:*` for a group.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Namespec::Process { group, name } if group == name => f.write_str(name),
            Namespec::Process { group, name } => write!(f, "{group}:{name}"),
            Namespec::Group(group) => write!(f, "{group}:*"),
        }
    }
}

/// The namespec of the process `name` in `group`: `name` when the two are equal, else
/// `group:name` (supervisord's `make_namespec`).
pub fn of(group: &str, name: &str) -> String {
    if group == name {
        name.to_string()
    } else {
        format!("{group}:{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(group: &str, name: &str) -> Namespec {
        Namespec::Process {
            group: group.into(),
            name: name.into(),
        }
    }

    #[test]
    fn parses_like_supervisords_split_namespec() {
        assert_eq!(Namespec::parse("web"), process("web", "web"));
        assert_eq!(Namespec::parse("g:web_1"), process("g", "web_1"));
        assert_eq!(Namespec::parse("g:*"), Namespec::Group("g".into()));
        assert_eq!(Namespec::parse("g:"), Namespec::Group("g".into()));
        // Only the first colon splits.
        assert_eq!(Namespec::parse("a:b:c"), process("a", "b:c"));
        assert_eq!(Namespec::parse(":x"), process("", "x"));
        assert_eq!(Namespec::parse(""), process("", ""));
    }

    #[test]
    fn displays_like_make_namespec() {
        assert_eq!(process("web", "web").to_string(), "web");
        assert_eq!(process("g", "web_1").to_string(), "g:web_1");
        assert_eq!(Namespec::Group("g".into()).to_string(), "g:*");
        assert_eq!(of("g", "g"), "g");
        assert_eq!(of("g", "a"), "g:a");
        for text in ["web", "g:web_1", "g:*"] {
            assert_eq!(Namespec::parse(text).to_string(), text);
        }
    }

    #[test]
    fn matches_a_process_or_its_group() {
        assert!(Namespec::parse("g:*").matches("g", "a"));
        assert!(Namespec::parse("g:a").matches("g", "a"));
        assert!(!Namespec::parse("g:a").matches("g", "b"));
        assert!(!Namespec::parse("a").matches("g", "a"));
    }

    #[test]
    fn labels_name_a_group_bare() {
        assert_eq!(Namespec::parse("g:*").label(), "g");
        assert_eq!(Namespec::parse("g:a").label(), "g:a");
        assert_eq!(Namespec::parse("a").label(), "a");
        assert_eq!(Namespec::parse("a:a").label(), "a");
    }
}
