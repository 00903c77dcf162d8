//! Turns the menu model into muda items, the only place that does.
//!
//! When the new model has the same shape as the shown one (same kinds and ids in the same order),
//! the existing items are updated in place: a poll that only changes a line's text then does not
//! rebuild a menu the user may have open. Otherwise the items are replaced. Main thread only
//! (muda items are `!Send`).

use tray_icon::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};

use crate::tray::menu::{Model, Node};

enum Built {
    Item(MenuItem),
    Check(CheckMenuItem),
    Sub(Submenu, Vec<Built>),
    Sep(PredefinedMenuItem),
}

impl Built {
    fn as_item(&self) -> &dyn IsMenuItem {
        match self {
            Built::Item(i) => i,
            Built::Check(i) => i,
            Built::Sub(s, _) => s,
            Built::Sep(s) => s,
        }
    }
}

/// The menu's text as muda takes it: `&` marks a mnemonic there, so a literal one is doubled.
/// (muda escapes `_` for GTK itself.)
pub fn muda_text(label: &str) -> String {
    label.replace('&', "&&")
}

pub struct Rendered {
    menu: Menu,
    built: Vec<Built>,
    shown: Model,
}

impl Rendered {
    pub fn new() -> Rendered {
        Rendered {
            menu: Menu::new(),
            built: Vec::new(),
            shown: Model::default(),
        }
    }

    /// The muda menu to hand to the tray icon (a cheap handle to the same menu).
    pub fn menu(&self) -> Menu {
        self.menu.clone()
    }

    /// The model on show, to look clicks up in.
    pub fn model(&self) -> &Model {
        &self.shown
    }

    /// Shows `model`. Returns whether the menu had to be rebuilt.
    pub fn apply(&mut self, model: Model) -> bool {
        let rebuilt = if same_shape(&self.shown.items, &model.items) {
            update(&self.shown.items, &model.items, &self.built);
            false
        } else {
            for b in &self.built {
                if let Err(e) = self.menu.remove(b.as_item()) {
                    log::warn!("menu: cannot remove an item: {e}");
                }
            }
            self.built = model.items.iter().map(build).collect();
            for b in &self.built {
                if let Err(e) = self.menu.append(b.as_item()) {
                    log::warn!("menu: cannot add an item: {e}");
                }
            }
            true
        };
        self.shown = model;
        rebuilt
    }
}

impl Default for Rendered {
    fn default() -> Self {
        Rendered::new()
    }
}

fn same_shape(a: &[Node], b: &[Node]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Node::Item { id: i, .. }, Node::Item { id: j, .. }) => i == j,
            (Node::Check { id: i, .. }, Node::Check { id: j, .. }) => i == j,
            (
                Node::Sub {
                    id: i, children: c, ..
                },
                Node::Sub {
                    id: j, children: d, ..
                },
            ) => i == j && same_shape(c, d),
            (Node::Separator, Node::Separator) => true,
            _ => false,
        })
}

fn build(n: &Node) -> Built {
    match n {
        Node::Item {
            id, label, enabled, ..
        } => Built::Item(MenuItem::with_id(
            id.as_str(),
            muda_text(label),
            *enabled,
            None,
        )),
        Node::Check {
            id,
            label,
            enabled,
            checked,
            ..
        } => Built::Check(CheckMenuItem::with_id(
            id.as_str(),
            muda_text(label),
            *enabled,
            *checked,
            None,
        )),
        Node::Sub {
            id,
            label,
            enabled,
            children,
        } => {
            let sub = Submenu::with_id(id.as_str(), muda_text(label), *enabled);
            let kids: Vec<Built> = children.iter().map(build).collect();
            for k in &kids {
                if let Err(e) = sub.append(k.as_item()) {
                    log::warn!("menu: cannot add an item: {e}");
                }
            }
            Built::Sub(sub, kids)
        }
        Node::Separator => Built::Sep(PredefinedMenuItem::separator()),
    }
}

/// Same shape: change only what differs. Check marks are compared with the live item, because
/// GTK and AppKit toggle them on click before we hear about it.
fn update(old: &[Node], new: &[Node], built: &[Built]) {
    for ((o, n), b) in old.iter().zip(new).zip(built) {
        match (o, n, b) {
            (
                Node::Item {
                    label: ol,
                    enabled: oe,
                    ..
                },
                Node::Item {
                    label: nl,
                    enabled: ne,
                    ..
                },
                Built::Item(i),
            ) => {
                if ol != nl {
                    i.set_text(muda_text(nl));
                }
                if oe != ne {
                    i.set_enabled(*ne);
                }
            }
            (
                Node::Check {
                    label: ol,
                    enabled: oe,
                    ..
                },
                Node::Check {
                    label: nl,
                    enabled: ne,
                    checked: nc,
                    ..
                },
                Built::Check(i),
            ) => {
                if ol != nl {
                    i.set_text(muda_text(nl));
                }
                if oe != ne {
                    i.set_enabled(*ne);
                }
                if i.is_checked() != *nc {
                    i.set_checked(*nc);
                }
            }
            (
                Node::Sub {
                    label: ol,
                    enabled: oe,
                    children: oc,
                    ..
                },
                Node::Sub {
                    label: nl,
                    enabled: ne,
                    children: nc,
                    ..
                },
                Built::Sub(s, kids),
            ) => {
                if ol != nl {
                    s.set_text(muda_text(nl));
                }
                if oe != ne {
                    s.set_enabled(*ne);
                }
                update(oc, nc, kids);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ampersands_survive_muda() {
        assert_eq!(muda_text("a && b"), "a &&&& b");
        assert_eq!(muda_text("plain_text"), "plain_text");
    }

    #[test]
    fn shape_compares_kinds_and_ids_not_labels() {
        let a = vec![
            Node::Item {
                id: "x".into(),
                label: "one".into(),
                enabled: true,
                action: None,
            },
            Node::Separator,
        ];
        let mut b = a.clone();
        if let Node::Item { label, .. } = &mut b[0] {
            *label = "two".into();
        }
        assert!(same_shape(&a, &b));
        b.push(Node::Separator);
        assert!(!same_shape(&a, &b));
    }
}
