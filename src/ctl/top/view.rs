//! How `vigilctl top` draws a [`Model`] with ratatui: a header with the server and the
//! counts, the process table (the sort column marked, the selected row highlighted, states
//! coloured, a crash-loop badge), the detail pane when open, and a footer with the keys, the
//! filter being typed or the question a destructive key asks. Draws only; changes nothing.

use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row as TableRow, Table, TableState};
use ratatui::Frame;

use super::model::{Column, Mode, Model, Row};
use crate::timefmt;

/// Keys, as the footer lists them.
const KEYS: &str = "q quit  ↑↓ select  Enter details  / filter  1-7 < > sort  i invert  s start  x stop  r restart";

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, model: &Model) {
    let detail_height = if model.detail_open { 15 } else { 0 };
    let [header, table, detail, message, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(detail_height),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(Paragraph::new(header_line(model)), header);
    draw_table(frame, model, table);
    if model.detail_open {
        frame.render_widget(detail_pane(model), detail);
    }
    let note = model.message.clone().unwrap_or_default();
    frame.render_widget(
        Paragraph::new(note).style(Style::default().fg(Color::Yellow)),
        message,
    );
    frame.render_widget(Paragraph::new(footer_line(model)), footer);
}

fn header_line(model: &Model) -> Line<'static> {
    let rows = model.all_rows();
    let count = |state: &str| rows.iter().filter(|r| r.state == state).count();
    let mut text = format!(
        "vigil top  {}  {} processes: {} running, {} fatal, {} backoff",
        model.server,
        rows.len(),
        count("RUNNING"),
        count("FATAL"),
        count("BACKOFF"),
    );
    if !model.filter.is_empty() {
        text.push_str(&format!("  filter: {}", model.filter));
    }
    if !model.stats {
        text.push_str("  (no process stats from this server)");
    }
    Line::from(Span::styled(
        text,
        Style::default().add_modifier(Modifier::BOLD),
    ))
}

fn draw_table(frame: &mut Frame, model: &Model, area: ratatui::layout::Rect) {
    let headings = Column::ALL.iter().map(|column| {
        let mark = match (*column == model.sort, model.descending) {
            (false, _) => "",
            (true, false) => " ▲",
            (true, true) => " ▼",
        };
        Cell::from(format!("{}{mark}", column.title()))
    });
    let header = TableRow::new(headings).style(Style::default().add_modifier(Modifier::REVERSED));
    let visible = model.visible();
    let rows = visible.iter().map(|row| table_row(row));
    let widths = [
        Constraint::Fill(3),
        Constraint::Length(22),
        Constraint::Length(10),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(16),
        Constraint::Length(10),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD))
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(model.selected_index());
    frame.render_stateful_widget(table, area, &mut state);
}

fn table_row(row: &Row) -> TableRow<'static> {
    let dash = || "-".to_string();
    let colour = match row.state.as_str() {
        "RUNNING" => Color::Green,
        "STARTING" | "BACKOFF" | "STOPPING" => Color::Yellow,
        "FATAL" | "UNKNOWN" => Color::Red,
        _ => Color::Gray,
    };
    let mut state = vec![Span::styled(row.state.clone(), Style::default().fg(colour))];
    if row.crash_loop {
        state.push(Span::styled(
            " CRASH LOOP",
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    let health = match row.health.as_str() {
        "healthy" => Style::default().fg(Color::Green),
        "unhealthy" => Style::default().fg(Color::Red),
        _ => Style::default(),
    };
    TableRow::new(vec![
        Cell::from(row.spec.clone()),
        Cell::from(Line::from(state)),
        Cell::from(Span::styled(row.health.clone(), health)),
        Cell::from(row.cpu.map_or_else(dash, |cpu| format!("{cpu:.1}"))),
        Cell::from(row.rss.map_or_else(dash, |rss| timefmt::bytes(rss as i64))),
        Cell::from(
            row.uptime
                .map_or_else(dash, |up| timefmt::uptime(up as u64)),
        ),
        Cell::from(row.restarts.map_or_else(dash, |n| n.to_string())),
    ])
}

fn detail_pane(model: &Model) -> Paragraph<'static> {
    let spec = model.selected().unwrap_or_default().to_string();
    let mut lines: Vec<Line> = Vec::new();
    let described = model
        .all_rows()
        .iter()
        .find(|row| row.spec == spec)
        .map(|row| row.description.clone())
        .unwrap_or_default();
    lines.push(Line::from(described));
    match &model.detail {
        Some(detail) if detail.spec == spec => {
            lines.push(Line::from(Span::styled(
                "last stderr lines:",
                Style::default().add_modifier(Modifier::BOLD),
            )));
            if detail.stderr.is_empty() {
                lines.push(Line::from("  (none)"));
            }
            lines.extend(detail.stderr.iter().map(|l| Line::from(format!("  {l}"))));
            lines.push(Line::from(Span::styled(
                "crashes (newest first):",
                Style::default().add_modifier(Modifier::BOLD),
            )));
            if detail.crashes.is_empty() {
                lines.push(Line::from("  (none)"));
            }
            lines.extend(detail.crashes.iter().map(|l| Line::from(format!("  {l}"))));
        }
        _ => lines.push(Line::from("loading…")),
    }
    Paragraph::new(lines).block(
        Block::default()
            .borders(Borders::TOP)
            .title(format!(" {spec} ")),
    )
}

fn footer_line(model: &Model) -> Line<'static> {
    match &model.mode {
        Mode::Browse => Line::from(Span::styled(KEYS, Style::default().fg(Color::DarkGray))),
        Mode::Filter => Line::from(format!(
            "filter: {}_   (Enter keeps it, Esc clears it)",
            model.filter
        )),
        Mode::Confirm(action, spec) => Line::from(Span::styled(
            format!("{} {spec}? (y/n)", action.verb()),
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        )),
    }
}
