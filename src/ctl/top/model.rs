//! What `vigilctl top` shows and how keys change it, with no terminal and no network: the
//! rows of the last fetch, the sort column and order, the filter, the selected process (by
//! name, so it stays selected as rows move), the detail pane, and the question a destructive
//! key asks first. Keys become [`Command`]s for the fetcher; nothing here calls the server.

use std::cmp::Ordering;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// One process as the last fetch saw it; the sampler's figures are `None` from a server
/// without `vigil.getAllProcessStats` (Python supervisord) or before the first sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// `group:name` (or `name` when they are the same).
    pub spec: String,
    /// supervisord's state name.
    pub state: String,
    /// supervisord's description (`pid 42, uptime 0:01:02`, a FATAL's reason, …).
    pub description: String,
    /// The health check's verdict (`healthy`, `unhealthy`, `unknown`) or empty.
    pub health: String,
    /// Whether the crash-loop detector holds the process.
    pub crash_loop: bool,
    /// CPU % of the process tree.
    pub cpu: Option<f64>,
    /// Resident memory of the process tree, in bytes.
    pub rss: Option<u64>,
    /// Seconds since the child started.
    pub uptime: Option<f64>,
    /// Restarts since vigild started.
    pub restarts: Option<u64>,
}

/// The columns, in the order shown; each can be the sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Name,
    State,
    Health,
    Cpu,
    Rss,
    Uptime,
    Restarts,
}

impl Column {
    /// Every column, left to right.
    pub const ALL: [Column; 7] = [
        Column::Name,
        Column::State,
        Column::Health,
        Column::Cpu,
        Column::Rss,
        Column::Uptime,
        Column::Restarts,
    ];

    /// The heading.
    pub fn title(self) -> &'static str {
        match self {
            Column::Name => "NAME",
            Column::State => "STATE",
            Column::Health => "HEALTH",
            Column::Cpu => "CPU%",
            Column::Rss => "RSS",
            Column::Uptime => "UPTIME",
            Column::Restarts => "RESTARTS",
        }
    }

    fn index(self) -> usize {
        Column::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }

    fn compare(self, a: &Row, b: &Row) -> Ordering {
        let figure = |x: Option<f64>, y: Option<f64>| {
            x.unwrap_or(-1.0)
                .partial_cmp(&y.unwrap_or(-1.0))
                .unwrap_or(Ordering::Equal)
        };
        match self {
            Column::Name => Ordering::Equal,
            Column::State => a.state.cmp(&b.state),
            Column::Health => a.health.cmp(&b.health),
            Column::Cpu => figure(a.cpu, b.cpu),
            Column::Rss => a.rss.cmp(&b.rss),
            Column::Uptime => figure(a.uptime, b.uptime),
            Column::Restarts => a.restarts.cmp(&b.restarts),
        }
        .then_with(|| a.spec.cmp(&b.spec))
    }
}

/// start, stop or restart, by key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
}

impl Action {
    /// The verb, for the question and the result line.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
        }
    }
}

/// What a key asks of the fetcher or the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Leave, restoring the terminal.
    Quit,
    /// Run the action on the process.
    Act(Action, String),
}

/// The process the detail pane follows (None: the pane is closed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch(pub Option<String>);

/// What keys are doing now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Moving, sorting, acting.
    Browse,
    /// Typing the filter after `/`.
    Filter,
    /// Waiting for y/n before a stop or restart.
    Confirm(Action, String),
}

/// The selected process's stderr tail and crash records, from the last refresh.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detail {
    /// The process it is about.
    pub spec: String,
    /// Its last stderr lines.
    pub stderr: Vec<String>,
    /// One line per crash record, newest first.
    pub crashes: Vec<String>,
}

/// The whole state of the view.
#[derive(Debug)]
pub struct Model {
    /// The server as given (`unix:///…` or `http://…`).
    pub server: String,
    rows: Vec<Row>,
    /// The sort key.
    pub sort: Column,
    /// Largest first.
    pub descending: bool,
    /// Rows whose name contains it or whose state begins with it (any case).
    pub filter: String,
    /// What keys do now.
    pub mode: Mode,
    selected: Option<String>,
    /// Whether the detail pane is open (for the selected process).
    pub detail_open: bool,
    /// The detail pane's content, once fetched.
    pub detail: Option<Detail>,
    /// The process the fetcher was last told to watch.
    watching: Option<String>,
    /// The last action's outcome or the last fetch error.
    pub message: Option<String>,
    /// Whether the server offers vigil's stats (else the figures show as `-`).
    pub stats: bool,
}

impl Model {
    /// An empty view of `server`, sorted by name.
    pub fn new(server: &str) -> Self {
        Model {
            server: server.to_string(),
            rows: Vec::new(),
            sort: Column::Name,
            descending: false,
            filter: String::new(),
            mode: Mode::Browse,
            selected: None,
            detail_open: false,
            detail: None,
            watching: None,
            message: None,
            stats: true,
        }
    }

    /// Takes a fetch's rows; the selection stays on the same name while it exists.
    pub fn set_rows(&mut self, rows: Vec<Row>, stats: bool) {
        self.rows = rows;
        self.stats = stats;
        self.keep_selection();
    }

    /// Every row fetched, unfiltered.
    pub fn all_rows(&self) -> &[Row] {
        &self.rows
    }

    /// The rows shown: filtered, then sorted.
    pub fn visible(&self) -> Vec<&Row> {
        let needle = self.filter.to_lowercase();
        let mut rows: Vec<&Row> = self
            .rows
            .iter()
            .filter(|row| {
                needle.is_empty()
                    || row.spec.to_lowercase().contains(&needle)
                    || row.state.to_lowercase().starts_with(&needle)
            })
            .collect();
        rows.sort_by(|a, b| {
            let order = self.sort.compare(a, b);
            if self.descending {
                order.reverse()
            } else {
                order
            }
        });
        rows
    }

    /// The selected row's position among the visible ones.
    pub fn selected_index(&self) -> Option<usize> {
        let selected = self.selected.as_deref()?;
        self.visible().iter().position(|row| row.spec == selected)
    }

    /// The selected process's name.
    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    fn keep_selection(&mut self) {
        let visible = self.visible();
        let still = self
            .selected
            .as_deref()
            .is_some_and(|spec| visible.iter().any(|row| row.spec == spec));
        if !still {
            self.selected = visible.first().map(|row| row.spec.clone());
        }
    }

    fn move_selection(&mut self, by: isize) {
        let visible = self.visible();
        if visible.is_empty() {
            return;
        }
        let at = self.selected_index().unwrap_or(0) as isize;
        let to = (at + by).clamp(0, visible.len() as isize - 1) as usize;
        self.selected = Some(visible[to].spec.clone());
    }

    /// What `key` does now; the command, if it needs one run.
    pub fn key(&mut self, key: KeyEvent) -> Option<Command> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Some(Command::Quit);
        }
        match self.mode.clone() {
            Mode::Filter => {
                match key.code {
                    KeyCode::Enter => self.mode = Mode::Browse,
                    KeyCode::Esc => {
                        self.filter.clear();
                        self.mode = Mode::Browse;
                    }
                    KeyCode::Backspace => {
                        self.filter.pop();
                    }
                    KeyCode::Char(c) => self.filter.push(c),
                    _ => {}
                }
                self.keep_selection();
                None
            }
            Mode::Confirm(action, spec) => {
                self.mode = Mode::Browse;
                if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                    Some(Command::Act(action, spec))
                } else {
                    self.message = Some(format!("{} {spec}: cancelled", action.verb()));
                    None
                }
            }
            Mode::Browse => self.browse_key(key.code),
        }
    }

    fn browse_key(&mut self, code: KeyCode) -> Option<Command> {
        match code {
            KeyCode::Char('q') => return Some(Command::Quit),
            KeyCode::Esc if self.detail_open => self.detail_open = false,
            KeyCode::Esc if !self.filter.is_empty() => {
                self.filter.clear();
                self.keep_selection();
            }
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::PageUp => self.move_selection(-10),
            KeyCode::PageDown => self.move_selection(10),
            KeyCode::Home | KeyCode::Char('g') => self.move_selection(isize::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => self.move_selection(isize::MAX / 2),
            KeyCode::Char('/') => self.mode = Mode::Filter,
            KeyCode::Char('>') | KeyCode::Right => self.sort_by(1),
            KeyCode::Char('<') | KeyCode::Left => self.sort_by(-1),
            KeyCode::Char('i') => self.descending = !self.descending,
            KeyCode::Char(digit @ '1'..='7') => {
                let column = Column::ALL[digit as usize - '1' as usize];
                if self.sort == column {
                    self.descending = !self.descending;
                } else {
                    self.sort = column;
                    self.descending = false;
                }
            }
            KeyCode::Enter => self.detail_open = !self.detail_open,
            KeyCode::Char('s') => {
                let spec = self.selected.clone()?;
                return Some(Command::Act(Action::Start, spec));
            }
            KeyCode::Char('x') => self.confirm(Action::Stop),
            KeyCode::Char('r') => self.confirm(Action::Restart),
            _ => {}
        }
        None
    }

    fn sort_by(&mut self, step: isize) {
        let count = Column::ALL.len() as isize;
        let at = (self.sort.index() as isize + step).rem_euclid(count) as usize;
        self.sort = Column::ALL[at];
    }

    fn confirm(&mut self, action: Action) {
        if let Some(spec) = self.selected.clone() {
            self.mode = Mode::Confirm(action, spec);
        }
    }

    /// The process the fetcher should watch now, when it differs from what it was last
    /// told: the selected one while the detail pane is open, none while it is closed.
    pub fn watch_needed(&self) -> Option<Watch> {
        let wanted = if self.detail_open {
            self.selected.clone()
        } else {
            None
        };
        (wanted != self.watching).then_some(Watch(wanted))
    }

    /// The fetcher took `watch` (from [`Model::watch_needed`]); the pane waits for its
    /// detail.
    pub fn watched(&mut self, watch: Watch) {
        self.watching = watch.0;
        self.detail = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn row(spec: &str, state: &str, cpu: f64) -> Row {
        Row {
            spec: spec.into(),
            state: state.into(),
            cpu: Some(cpu),
            ..Row::default()
        }
    }

    fn model() -> Model {
        let mut model = Model::new("unix:///tmp/s");
        model.set_rows(
            vec![
                row("web", "RUNNING", 5.0),
                row("api", "FATAL", 0.0),
                row("worker:worker_0", "RUNNING", 40.0),
            ],
            true,
        );
        model
    }

    fn names(model: &Model) -> Vec<&str> {
        model.visible().iter().map(|r| r.spec.as_str()).collect()
    }

    #[test]
    fn rows_sort_by_any_column_and_invert() {
        let mut model = model();
        assert_eq!(names(&model), ["api", "web", "worker:worker_0"]);
        model.key(key(KeyCode::Char('4')));
        assert_eq!(model.sort, Column::Cpu);
        assert_eq!(names(&model), ["api", "web", "worker:worker_0"]);
        model.key(key(KeyCode::Char('4')));
        assert_eq!(names(&model), ["worker:worker_0", "web", "api"]);
        model.key(key(KeyCode::Char('<')));
        assert_eq!(model.sort, Column::Health);
        model.key(key(KeyCode::Char('<')));
        model.key(key(KeyCode::Char('<')));
        model.key(key(KeyCode::Char('<')));
        assert_eq!(model.sort, Column::Restarts, "wraps around");
    }

    #[test]
    fn the_filter_matches_names_and_states_and_escape_clears_it() {
        let mut model = model();
        model.key(key(KeyCode::Char('/')));
        for c in "fat".chars() {
            model.key(key(KeyCode::Char(c)));
        }
        assert_eq!(names(&model), ["api"]);
        assert_eq!(model.selected(), Some("api"));
        model.key(key(KeyCode::Backspace));
        model.key(key(KeyCode::Backspace));
        model.key(key(KeyCode::Backspace));
        model.key(key(KeyCode::Char('w')));
        model.key(key(KeyCode::Enter));
        assert_eq!(model.mode, Mode::Browse);
        assert_eq!(names(&model), ["web", "worker:worker_0"]);
        model.key(key(KeyCode::Esc));
        assert_eq!(names(&model).len(), 3);
    }

    #[test]
    fn the_selection_follows_its_name_across_refreshes() {
        let mut model = model();
        model.key(key(KeyCode::Down));
        assert_eq!(model.selected(), Some("web"));
        model.set_rows(
            vec![row("aaa", "RUNNING", 0.0), row("web", "STOPPED", 0.0)],
            true,
        );
        assert_eq!(model.selected(), Some("web"));
        model.set_rows(vec![row("aaa", "RUNNING", 0.0)], true);
        assert_eq!(model.selected(), Some("aaa"));
    }

    #[test]
    fn stop_and_restart_ask_first_and_start_does_not() {
        let mut model = model();
        assert_eq!(model.key(key(KeyCode::Char('x'))), None);
        assert_eq!(model.mode, Mode::Confirm(Action::Stop, "api".into()));
        assert_eq!(model.key(key(KeyCode::Char('n'))), None);
        assert_eq!(model.message.as_deref(), Some("stop api: cancelled"));
        model.key(key(KeyCode::Char('r')));
        assert_eq!(
            model.key(key(KeyCode::Char('y'))),
            Some(Command::Act(Action::Restart, "api".into()))
        );
        assert_eq!(
            model.key(key(KeyCode::Char('s'))),
            Some(Command::Act(Action::Start, "api".into()))
        );
    }

    #[test]
    fn q_and_ctrl_c_quit_and_the_detail_pane_watches_the_selected_process() {
        let mut model = model();
        assert_eq!(model.watch_needed(), None);
        assert_eq!(model.key(key(KeyCode::Enter)), None);
        assert_eq!(model.watch_needed(), Some(Watch(Some("api".into()))));
        assert_eq!(
            model.watch_needed(),
            Some(Watch(Some("api".into()))),
            "until the fetcher took it"
        );
        model.watched(Watch(Some("api".into())));
        assert_eq!(model.watch_needed(), None);
        model.key(key(KeyCode::Down));
        assert_eq!(model.watch_needed(), Some(Watch(Some("web".into()))));
        model.watched(Watch(Some("web".into())));
        model.set_rows(vec![row("web", "STOPPED", 0.0)], true);
        assert_eq!(model.watch_needed(), None, "still web");
        model.key(key(KeyCode::Esc));
        assert_eq!(model.watch_needed(), Some(Watch(None)));
        assert_eq!(model.key(key(KeyCode::Char('q'))), Some(Command::Quit));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        model.mode = Mode::Filter;
        assert_eq!(model.key(ctrl_c), Some(Command::Quit));
    }
}
