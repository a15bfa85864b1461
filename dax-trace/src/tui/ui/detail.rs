//! The detail pane of the selected pagemap: dm topology, the waits in
//! progress (stuck ones flagged), holder history,
//! the owner of the selected busy page with its kernel stack and (with
//! room) the wait histogram on the left, busy pages (longest pinned first,
//! with their owners; `[` `]` select) on the right.
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};

use super::histogram;
use crate::human::compact::duration;
use crate::tui::model::view::{BusyPage, Detail, Pinner};

/// Column widths of the busy page table.
const BUSY_COLUMNS: [u16; 6] = [9, 5, 5, 6, 3, 13];

pub fn render(frame: &mut Frame, area: Rect, detail: Option<&Detail>) {
    let Some(detail) = detail else {
        frame.render_widget(
            Paragraph::new(Line::from("nothing selected").italic())
                .block(Block::bordered().title(" detail ")),
            area,
        );
        return;
    };
    let busy_width = BUSY_COLUMNS.iter().sum::<u16>() + BUSY_COLUMNS.len() as u16 - 1 + 2;
    let [left, right] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(busy_width)]).areas(area);
    let buckets = detail.histogram.counts.iter().filter(|&&c| c > 0).count() as u16;
    let (left, histogram_area) = if buckets > 0 && left.height >= 14 {
        let [top, bottom] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(buckets.min(6) + 2)])
                .areas(left);
        (top, Some(bottom))
    } else {
        (left, None)
    };
    let left = match &detail.pinner {
        Some(p) if left.height >= 10 => {
            let want = p.frames.len().max(1) as u16 + 3;
            let [history, stack] = Layout::vertical([
                Constraint::Fill(1),
                Constraint::Length(want.min(left.height / 2)),
            ])
            .areas(left);
            render_pinner(frame, stack, p);
            history
        }
        _ => left,
    };
    render_history(frame, left, detail);
    if let Some(area) = histogram_area {
        histogram::render(frame, area, Some(detail));
    }
    if detail.busy_at_start.is_empty() {
        render_busy(frame, right, detail);
    } else {
        let [now, at_start] =
            Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(right);
        render_busy(frame, now, detail);
        render_pages(
            frame,
            at_start,
            &detail.busy_at_start,
            format!(" busy at start {} ", detail.busy_at_start_total),
            None,
        );
    }
}

fn render_history(frame: &mut Frame, area: Rect, detail: &Detail) {
    let mut lines = vec![Line::from("topology").bold()];
    if detail.topology.is_empty() {
        lines.push(Line::from(" (no device-mapper above or below)"));
    }
    lines.extend(detail.topology.iter().map(|t| Line::from(format!(" {t}"))));
    if !detail.waits.is_empty() {
        lines.push(Line::from("waits in progress").bold());
    }
    // Waits get at most half of what is left, so the holders still show.
    let left = usize::from(area.height.saturating_sub(2)).saturating_sub(lines.len() + 1);
    let shown = detail.waits.len().min((left / 2).max(1));
    lines.extend(detail.waits.iter().take(shown).map(|w| {
        // Stuck first: the pane is narrow and that is what matters.
        let line = Line::from(format!(
            " {}{}{}{} {} ino {}",
            if w.stuck {
                "STUCK "
            } else if w.blocked {
                "BLOCKED "
            } else {
                ""
            },
            if w.uninterruptible { "D " } else { "" },
            if w.at_attach { ">=" } else { "" },
            duration(w.waited_ns),
            w.who,
            w.ino,
        ));
        if w.stuck || w.blocked {
            line.red()
        } else {
            line
        }
    }));
    if shown < detail.waits.len() {
        lines.push(Line::from(format!(
            " ... {} more",
            detail.waits.len() - shown
        )));
    }
    // After the waits: a stuck wait matters more than how fast the host is.
    if let Some(f) = &detail.flushes {
        lines.push(Line::from("flushes to the host").bold());
        lines.push(Line::from(format!(" {f}")));
    }
    lines.push(Line::from("holders").bold());
    if detail.holders.is_empty() {
        lines.push(Line::from(" (never claimed)"));
    }
    // Newest last, and the newest are the ones that must stay visible.
    let room = usize::from(area.height.saturating_sub(2)).saturating_sub(lines.len());
    let skip = detail.holders.len().saturating_sub(room);
    lines.extend(detail.holders.iter().skip(skip).map(|h| {
        Line::from(format!(
            " {} {:<7} {} {}[{}]",
            detail.time.at(h.at_ns),
            h.action,
            h.holder,
            h.comm,
            h.pid
        ))
    }));
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(format!(" {} ", detail.title))),
        area,
    );
}

fn render_busy(frame: &mut Frame, area: Rect, detail: &Detail) {
    render_pages(
        frame,
        area,
        &detail.busy,
        format!(" busy pages {} ", detail.busy_total),
        Some(detail.selected_busy),
    );
}

fn render_pages(
    frame: &mut Frame,
    area: Rect,
    pages: &[BusyPage],
    title: String,
    selected: Option<usize>,
) {
    let header =
        Row::new(["pfn", "ino", "pgoff", "age", "ref", "owner"]).style(Style::new().bold());
    let rows = pages.iter().map(|p| {
        Row::new([
            format!("{:#x}", p.pfn),
            p.ino.to_string(),
            p.pgoff.map_or_else(|| "-".to_string(), |o| o.to_string()),
            duration(p.age_ns),
            p.refcount.to_string(),
            p.owner.clone(),
        ])
    });
    let table = Table::new(rows, BUSY_COLUMNS.map(Constraint::Length))
        .header(header)
        .row_highlight_style(Style::new().reversed())
        .block(Block::bordered().title(title));
    let selected = selected.filter(|_| !pages.is_empty());
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

/// The owner of the longest-pinned page and its kernel stack, innermost
/// frame first (module names in brackets).
fn render_pinner(frame: &mut Frame, area: Rect, p: &Pinner) {
    let mut lines = vec![Line::from(format!(
        "pfn {:#x} for {}{}",
        p.pfn,
        duration(p.held_ns),
        if p.released { ", released" } else { "" }
    ))];
    if p.frames.is_empty() {
        lines.push(Line::from(format!(" via {} (no stack recorded)", p.entry)).italic());
    }
    lines.extend(p.frames.iter().map(|f| Line::from(format!(" {f}"))));
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(format!(" pinned by {} ", p.who))),
        area,
    );
}
