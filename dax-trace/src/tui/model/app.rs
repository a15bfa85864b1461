//! Dashboard state that belongs to the user, not to the data: selection, sort
//! column, filter, pause, help and detail toggles. Changed only by
//! [`App::apply`] with an [`Action`] (keys map to actions in [`crate::tui::run::keys`]),
//! so every behaviour is testable without a terminal.
use std::cmp::Ordering;

use crate::tui::model::view::PagemapRow;

/// The column the table is sorted by; `s` cycles through them in this order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortColumn {
    /// Busy pages, most first: the default, it is what a stall looks like.
    #[default]
    Busy,
    Waits,
    P99,
    MaxWait,
    Faults,
    Claims,
    Device,
}

impl SortColumn {
    pub fn next(self) -> Self {
        match self {
            Self::Busy => Self::Waits,
            Self::Waits => Self::P99,
            Self::P99 => Self::MaxWait,
            Self::MaxWait => Self::Faults,
            Self::Faults => Self::Claims,
            Self::Claims => Self::Device,
            Self::Device => Self::Busy,
        }
    }

    /// Name shown in the table title and help.
    pub fn name(self) -> &'static str {
        match self {
            Self::Busy => "busy",
            Self::Waits => "waits",
            Self::P99 => "p99",
            Self::MaxWait => "max",
            Self::Faults => "faults/s",
            Self::Claims => "claims",
            Self::Device => "device",
        }
    }

    /// Display order: numbers descending, device names ascending; ties by device.
    pub fn compare(self, a: &PagemapRow, b: &PagemapRow) -> Ordering {
        let primary = match self {
            Self::Busy => b.busy_pages.cmp(&a.busy_pages),
            Self::Waits => b.waits.cmp(&a.waits),
            Self::P99 => b.wait_p99_ns.cmp(&a.wait_p99_ns),
            Self::MaxWait => b.wait_max_ns.cmp(&a.wait_max_ns),
            Self::Faults => b.faults_per_sec.total_cmp(&a.faults_per_sec),
            Self::Claims => b.claims.cmp(&a.claims),
            Self::Device => Ordering::Equal,
        };
        primary
            .then_with(|| a.device.cmp(&b.device))
            .then_with(|| a.key.cmp(&b.key))
    }
}

/// What a key press asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    First,
    Last,
    ToggleDetail,
    CycleSort,
    StartFilter,
    FilterChar(char),
    FilterBackspace,
    /// Enter in the filter line: keep the filter, leave editing.
    FilterAccept,
    /// Esc in the filter line: drop the filter, leave editing.
    FilterCancel,
    TogglePause,
    ToggleHelp,
    /// Esc: close what is open (help, detail, filter), quit when nothing is.
    Back,
    LogOlder,
    LogNewer,
    /// `[` / `]`: the previous / next busy page of the detail pane.
    BusyUp,
    BusyDown,
    Quit,
}

/// Lines the log moves per PageUp/PageDown.
const LOG_PAGE: usize = 5;

/// The user's side of the dashboard.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct App {
    pub sort: SortColumn,
    /// Index of the selected row in the arranged rows.
    pub selected: usize,
    /// Identity of the selected row, so re-sorting keeps the selection.
    pub selected_key: Option<u64>,
    pub filter: String,
    pub editing_filter: bool,
    pub paused: bool,
    pub help: bool,
    pub detail: bool,
    /// How many lines the event log is scrolled back from the newest.
    pub log_scroll: usize,
    /// Index of the selected busy page in the detail pane.
    pub busy_selected: usize,
    /// Its pfn, so the selection follows the page as others come and go.
    pub busy_selected_pfn: Option<u64>,
    pub quit: bool,
}

impl App {
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::First => self.jump(0),
            Action::Last => self.jump(usize::MAX),
            Action::ToggleDetail => self.detail = !self.detail,
            Action::CycleSort => self.sort = self.sort.next(),
            Action::StartFilter => {
                self.editing_filter = true;
                self.help = false;
            }
            Action::FilterChar(c) => {
                self.filter.push(c);
                self.selected = 0;
                self.selected_key = None;
            }
            Action::FilterBackspace => {
                self.filter.pop();
            }
            Action::FilterAccept => self.editing_filter = false,
            Action::FilterCancel => {
                self.editing_filter = false;
                self.filter.clear();
            }
            Action::TogglePause => self.paused = !self.paused,
            Action::ToggleHelp => self.help = !self.help,
            Action::Back => {
                if self.help {
                    self.help = false;
                } else if self.detail {
                    self.detail = false;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                } else {
                    self.quit = true;
                }
            }
            Action::LogOlder => self.log_scroll = self.log_scroll.saturating_add(LOG_PAGE),
            Action::LogNewer => self.log_scroll = self.log_scroll.saturating_sub(LOG_PAGE),
            Action::BusyUp => self.move_busy(-1),
            Action::BusyDown => self.move_busy(1),
            Action::Quit => self.quit = true,
        }
    }

    fn move_busy(&mut self, delta: isize) {
        self.busy_selected = self.busy_selected.saturating_add_signed(delta);
        self.busy_selected_pfn = None;
    }

    /// Settles the busy page selection on an existing row of `pfns`: the
    /// same page as before when it is still listed.
    pub fn settle_busy(&mut self, pfns: &[u64]) -> usize {
        if let Some(pos) = self
            .busy_selected_pfn
            .and_then(|pfn| pfns.iter().position(|p| *p == pfn))
        {
            self.busy_selected = pos;
        }
        self.busy_selected = self.busy_selected.min(pfns.len().saturating_sub(1));
        self.busy_selected_pfn = pfns.get(self.busy_selected).copied();
        self.busy_selected
    }

    fn move_selection(&mut self, delta: isize) {
        self.busy_selected = 0;
        self.busy_selected_pfn = None;
        self.selected = self.selected.saturating_add_signed(delta);
        // The key is re-derived from the index on the next arrange.
        self.selected_key = None;
    }

    fn jump(&mut self, index: usize) {
        self.busy_selected = 0;
        self.busy_selected_pfn = None;
        self.selected = index;
        self.selected_key = None;
    }

    /// Filters and sorts `rows` for display and settles the selection on an
    /// existing row: the same pagemap as before when it is still shown.
    pub fn arrange(&mut self, mut rows: Vec<PagemapRow>) -> Vec<PagemapRow> {
        let needle = self.filter.to_lowercase();
        rows.retain(|r| r.matches(&needle));
        let sort = self.sort;
        rows.sort_by(|a, b| sort.compare(a, b));
        if let Some(pos) = self
            .selected_key
            .and_then(|key| rows.iter().position(|r| r.key == key))
        {
            self.selected = pos;
        }
        self.selected = self.selected.min(rows.len().saturating_sub(1));
        self.selected_key = rows.get(self.selected).map(|r| r.key);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_page_selection_follows_its_page_and_resets_with_the_row() {
        let mut app = App::default();
        app.apply(Action::BusyDown);
        assert_eq!(app.settle_busy(&[10, 20, 30]), 1);
        // A page older than the selected one went idle: still page 20.
        assert_eq!(app.settle_busy(&[20, 30]), 0);
        // The selected page went idle: the same index, clamped.
        assert_eq!(app.settle_busy(&[30]), 0);
        app.apply(Action::BusyDown);
        app.apply(Action::BusyDown);
        assert_eq!(app.settle_busy(&[30, 40, 50]), 2);
        app.apply(Action::Down);
        assert_eq!(app.settle_busy(&[30, 40, 50]), 0);
    }

    fn row(key: u64, device: &str, busy: u64, waits: u64) -> PagemapRow {
        PagemapRow {
            key,
            device: device.into(),
            busy_pages: busy,
            waits,
            ..Default::default()
        }
    }

    fn rows() -> Vec<PagemapRow> {
        vec![
            row(1, "pmem0", 5, 0),
            row(2, "pmem1", 9, 3),
            row(3, "dm-0", 0, 7),
        ]
    }

    fn devices(rows: &[PagemapRow]) -> Vec<&str> {
        rows.iter().map(|r| r.device.as_str()).collect()
    }

    #[test]
    fn sort_cycles_through_every_column_and_back() {
        let mut app = App::default();
        let mut seen = vec![app.sort];
        for _ in 0..6 {
            app.apply(Action::CycleSort);
            seen.push(app.sort);
        }
        app.apply(Action::CycleSort);
        assert_eq!(app.sort, SortColumn::Busy);
        seen.dedup();
        assert_eq!(seen.len(), 7);
    }

    #[test]
    fn arrange_sorts_by_the_chosen_column() {
        let mut app = App::default();
        assert_eq!(devices(&app.arrange(rows())), ["pmem1", "pmem0", "dm-0"]);
        app.apply(Action::CycleSort);
        assert_eq!(devices(&app.arrange(rows())), ["dm-0", "pmem1", "pmem0"]);
        app.sort = SortColumn::Device;
        assert_eq!(devices(&app.arrange(rows())), ["dm-0", "pmem0", "pmem1"]);
    }

    #[test]
    fn selection_follows_its_pagemap_across_resorts() {
        let mut app = App::default();
        app.arrange(rows());
        app.apply(Action::Down);
        app.arrange(rows());
        assert_eq!(app.selected_key, Some(1));
        app.apply(Action::CycleSort);
        let shown = app.arrange(rows());
        assert_eq!(shown[app.selected].device, "pmem0");
        assert_eq!(app.selected, 2);
    }

    #[test]
    fn selection_is_clamped_to_the_rows_shown() {
        let mut app = App::default();
        app.apply(Action::Last);
        app.arrange(rows());
        assert_eq!(app.selected, 2);
        app.apply(Action::Up);
        app.apply(Action::Up);
        app.apply(Action::Up);
        app.arrange(rows());
        assert_eq!(app.selected, 0);
        assert!(app.arrange(Vec::new()).is_empty());
        assert_eq!((app.selected, app.selected_key), (0, None));
    }

    #[test]
    fn filter_is_typed_accepted_and_cancelled() {
        let mut app = App::default();
        app.apply(Action::StartFilter);
        for c in "PMEM1".chars() {
            app.apply(Action::FilterChar(c));
        }
        app.apply(Action::FilterBackspace);
        app.apply(Action::FilterChar('1'));
        assert_eq!(devices(&app.arrange(rows())), ["pmem1"]);
        app.apply(Action::FilterAccept);
        assert!(!app.editing_filter);
        assert_eq!(app.filter, "PMEM1");
        app.apply(Action::StartFilter);
        app.apply(Action::FilterCancel);
        assert!(app.filter.is_empty());
        assert_eq!(app.arrange(rows()).len(), 3);
    }

    #[test]
    fn escape_closes_help_then_detail_then_filter_then_quits() {
        let mut app = App {
            help: true,
            detail: true,
            filter: "x".into(),
            ..Default::default()
        };
        app.apply(Action::Back);
        assert!(!app.help && app.detail && !app.quit);
        app.apply(Action::Back);
        assert!(!app.detail && !app.quit);
        app.apply(Action::Back);
        assert!(app.filter.is_empty() && !app.quit);
        app.apply(Action::Back);
        assert!(app.quit);
    }

    #[test]
    fn log_scroll_never_goes_below_newest() {
        let mut app = App::default();
        app.apply(Action::LogOlder);
        assert_eq!(app.log_scroll, LOG_PAGE);
        app.apply(Action::LogNewer);
        app.apply(Action::LogNewer);
        assert_eq!(app.log_scroll, 0);
    }
}
