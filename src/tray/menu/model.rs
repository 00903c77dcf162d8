//! The menu as data: nodes with stable ids, what a click on each one does, which items carry a
//! keyboard shortcut ([`shortcut`]) and the order the arrow keys visit them in
//! ([`Model::keyboard_order`]).
//!
//! A click carries a [`MenuAction`], grouped by who handles it, so the event loop routes it with
//! one `match` on the group: [`UiAction`]s on the main thread, [`MonitorCmd`]s to the monitor,
//! [`WorkerAction`]s through the write-action flow to the actions worker.

use crate::tray::menu::text::clip;
use crate::tray::view::{MonitorCmd, WorkerAction};

/// What a click on an item does. Plain data: everything the handler needs is in here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuAction {
    /// Handled on the main thread, which owns the clipboard and the event loop.
    Ui(UiAction),
    /// Sent to the monitor as is (diagnose, open, settings).
    Monitor(MonitorCmd),
    /// A step of the write-action flow, which may start work on the actions worker.
    Worker(WorkerAction),
}

/// The clicks the main thread handles itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiAction {
    /// Put `text` on the clipboard; `what` names it in the confirmation.
    Copy {
        what: String,
        text: String,
    },
    /// Copy the Markdown report of the diagnosis on show.
    CopyReport,
    /// Copy the Markdown report of the other target with this name.
    CopyTargetReport(String),
    Quit,
}

impl From<UiAction> for MenuAction {
    fn from(a: UiAction) -> Self {
        MenuAction::Ui(a)
    }
}

impl From<MonitorCmd> for MenuAction {
    fn from(c: MonitorCmd) -> Self {
        MenuAction::Monitor(c)
    }
}

impl From<WorkerAction> for MenuAction {
    fn from(a: WorkerAction) -> Self {
        MenuAction::Worker(a)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Item {
        id: String,
        label: String,
        enabled: bool,
        action: Option<MenuAction>,
    },
    Check {
        id: String,
        label: String,
        enabled: bool,
        checked: bool,
        action: Option<MenuAction>,
    },
    Sub {
        id: String,
        label: String,
        enabled: bool,
        children: Vec<Node>,
    },
    Separator,
}

impl Node {
    /// An information line: disabled, clipped to the menu's width.
    pub fn info(id: impl Into<String>, label: impl Into<String>) -> Node {
        Node::Item {
            id: id.into(),
            label: clip(&label.into()),
            enabled: false,
            action: None,
        }
    }

    pub fn act(
        id: impl Into<String>,
        label: impl Into<String>,
        action: impl Into<MenuAction>,
    ) -> Node {
        Node::act_if(true, id, label, action)
    }

    /// An item that may be disabled (greyed out, its click ignored).
    pub fn act_if(
        enabled: bool,
        id: impl Into<String>,
        label: impl Into<String>,
        action: impl Into<MenuAction>,
    ) -> Node {
        Node::Item {
            id: id.into(),
            label: label.into(),
            enabled,
            action: Some(action.into()),
        }
    }

    pub fn check(
        id: impl Into<String>,
        label: impl Into<String>,
        enabled: bool,
        checked: bool,
        action: impl Into<MenuAction>,
    ) -> Node {
        Node::Check {
            id: id.into(),
            label: label.into(),
            enabled,
            checked,
            action: Some(action.into()),
        }
    }

    pub fn sub(id: impl Into<String>, label: impl Into<String>, children: Vec<Node>) -> Node {
        Node::Sub {
            id: id.into(),
            label: label.into(),
            enabled: true,
            children,
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Node::Item { id, .. } | Node::Check { id, .. } | Node::Sub { id, .. } => Some(id),
            Node::Separator => None,
        }
    }

    pub fn label(&self) -> Option<&str> {
        match self {
            Node::Item { label, .. } | Node::Check { label, .. } | Node::Sub { label, .. } => {
                Some(label)
            }
            Node::Separator => None,
        }
    }
}

/// A key that, with ⌘ on macOS (Ctrl elsewhere), clicks an item while the menu is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    R,
    Comma,
    Q,
    C,
}

/// The keyboard shortcut of the item with this id: the ones every Mac utility has. Settings is
/// a submenu, which takes no shortcut in muda, so ⌘, opens the config file it edits.
pub fn shortcut(id: &str) -> Option<Key> {
    match id {
        "diagnose" => Some(Key::R),
        "settings.open" => Some(Key::Comma),
        "quit" => Some(Key::Q),
        "report.copy" => Some(Key::C),
        _ => None,
    }
}

/// The whole menu, top to bottom.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Model {
    pub items: Vec<Node>,
}

impl Model {
    /// The node with this id, searching submenus.
    pub fn find(&self, id: &str) -> Option<&Node> {
        fn walk<'a>(nodes: &'a [Node], id: &str) -> Option<&'a Node> {
            nodes.iter().find_map(|n| match n {
                _ if n.id() == Some(id) => Some(n),
                Node::Sub { children, .. } => walk(children, id),
                _ => None,
            })
        }
        walk(&self.items, id)
    }

    /// What clicking the item with this id does (disabled items do nothing).
    pub fn action(&self, id: &str) -> Option<&MenuAction> {
        match self.find(id)? {
            Node::Item {
                enabled: true,
                action,
                ..
            }
            | Node::Check {
                enabled: true,
                action,
                ..
            } => action.as_ref(),
            _ => None,
        }
    }

    /// The top-level ids the arrow keys stop at, in order: separators and disabled items are
    /// skipped. Logged for the e2e tests, which walk the menu with the keyboard.
    pub fn keyboard_order(&self) -> Vec<&str> {
        self.items
            .iter()
            .filter(|n| match n {
                Node::Item { enabled, .. }
                | Node::Check { enabled, .. }
                | Node::Sub { enabled, .. } => *enabled,
                Node::Separator => false,
            })
            .filter_map(Node::id)
            .collect()
    }

    /// Every id, depth first (for the uniqueness test and the renderer's shape comparison).
    pub fn ids(&self) -> Vec<&str> {
        fn walk<'a>(nodes: &'a [Node], out: &mut Vec<&'a str>) {
            for n in nodes {
                out.extend(n.id());
                if let Node::Sub { children, .. } = n {
                    walk(children, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.items, &mut out);
        out
    }
}
