//! The pagemap table, sorted and filtered as the [`App`] says.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Row, Table, TableState};

use crate::tui::model::app::App;
use crate::tui::model::view;
use crate::tui::ui::columns::{COLUMNS, cells};

pub fn render(frame: &mut Frame, area: Rect, snap: &view::Frame, app: &App) {
    let header = Row::new(COLUMNS.iter().map(|c| {
        let name = c.name;
        if c.sort == Some(app.sort) {
            Cell::from(format!("{name}*")).style(Style::new().bold().underlined())
        } else {
            Cell::from(name).style(Style::new().bold())
        }
    }));
    let rows = snap.rows.iter().map(|row| {
        let style = if row.alarming() {
            Style::new().red()
        } else if row.busy_pages > 0 {
            Style::new().yellow()
        } else {
            Style::new()
        };
        Row::new(cells(row)).style(style)
    });
    let mut title = format!(" devices {} | sort {} ", snap.rows.len(), app.sort.name());
    if !app.filter.is_empty() || app.editing_filter {
        title.push_str(&format!("| filter \"{}\" ", app.filter));
    }
    let empty = snap.rows.is_empty();
    let table = Table::new(rows, COLUMNS.map(|c| c.width))
        .header(header)
        .column_spacing(1)
        .row_highlight_style(Style::new().reversed())
        .block(Block::bordered().title(Line::from(title).bold()));
    let mut state = TableState::default().with_selected((!empty).then_some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
    if empty {
        let message = if app.filter.is_empty() {
            "no pagemap seen yet: waiting for events"
        } else {
            "no pagemap matches the filter"
        };
        let inner = Rect {
            x: area.x + 2,
            y: area.y + 2,
            width: area.width.saturating_sub(4),
            height: u16::from(area.height > 3),
        };
        frame.render_widget(Line::from(message).italic(), inner);
    }
}
