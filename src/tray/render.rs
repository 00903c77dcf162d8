//! Turns the menu model into muda items, the only place that does.
//!
//! Updates are incremental: items at both ends of a list that still have the same kind and id are
//! changed in place and only the middle is replaced (or, when the middle holds the same items and
//! only submenu titles changed, as check lines do, just those submenus), so a poll that changes
//! a line or a status line that appears does not rebuild a menu the user may have open. Main thread only
//! (muda items are `!Send`). Shortcuts go on with each item ([`shortcut`]): muda puts ⌘ on
//! macOS and Ctrl elsewhere (`CMD_OR_CTRL`), so no platform test is needed here.

use tray_icon::menu::accelerator::{Accelerator, CMD_OR_CTRL, Code};
use tray_icon::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};

use crate::tray::menu::{Key, Model, Node, shortcut};

/// The item's shortcut as muda takes it.
fn accelerator(id: &str) -> Option<Accelerator> {
    let code = match shortcut(id)? {
        Key::R => Code::KeyR,
        Key::Comma => Code::Comma,
        Key::Q => Code::KeyQ,
        Key::C => Code::KeyC,
    };
    Some(Accelerator::new(CMD_OR_CTRL, code))
}

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

/// A menu or a submenu: both take items at a position.
#[derive(Clone, Copy)]
enum Container<'a> {
    Menu(&'a Menu),
    Sub(&'a Submenu),
}

impl Container<'_> {
    fn insert(self, item: &dyn IsMenuItem, pos: usize) {
        let r = match self {
            Container::Menu(m) => m.insert(item, pos),
            Container::Sub(s) => s.insert(item, pos),
        };
        if let Err(e) = r {
            log::warn!("menu: cannot add an item: {e}");
        }
    }

    fn remove(self, item: &dyn IsMenuItem) {
        let r = match self {
            Container::Menu(m) => m.remove(item),
            Container::Sub(s) => s.remove(item),
        };
        if let Err(e) = r {
            log::warn!("menu: cannot remove an item: {e}");
        }
    }
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

    /// Shows `model`, touching as few items as it can. Returns how many items were created.
    pub fn apply(&mut self, model: Model) -> usize {
        let created = sync(
            Container::Menu(&self.menu),
            &self.shown.items,
            &model.items,
            &mut self.built,
        );
        self.shown = model;
        created
    }
}

impl Default for Rendered {
    fn default() -> Self {
        Rendered::new()
    }
}

/// Whether an existing item can show `b` in place of `a`: same kind and id (labels, enabled and
/// check state can be changed; a submenu's children are synced on their own). A submenu's title
/// cannot be changed: muda's GTK submenu keeps its label inside a box, where
/// `Submenu::set_text` never reaches it, so a new title (another target's new health) means a
/// new submenu.
fn same_item(a: &Node, b: &Node) -> bool {
    match (a, b) {
        (Node::Item { id: i, .. }, Node::Item { id: j, .. })
        | (Node::Check { id: i, .. }, Node::Check { id: j, .. }) => i == j,
        (
            Node::Sub {
                id: i, label: k, ..
            },
            Node::Sub {
                id: j, label: l, ..
            },
        ) => i == j && k == l,
        (Node::Separator, Node::Separator) => true,
        _ => false,
    }
}

/// The common prefix and suffix (by `same`) of two lists, not overlapping.
fn common_ends(old: &[Node], new: &[Node], same: fn(&Node, &Node) -> bool) -> (usize, usize) {
    let prefix = old.iter().zip(new).take_while(|(a, b)| same(a, b)).count();
    let max_suffix = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| same(a, b))
        .count();
    (prefix, suffix)
}

/// Whether two nodes hold the same place: same kind and id, whatever a submenu's title. A
/// submenu whose title changed (a check line with new evidence) is replaced on its own, in its
/// place, instead of making everything between it and the next change a new item.
fn same_slot(a: &Node, b: &Node) -> bool {
    match (a, b) {
        (Node::Sub { id: i, .. }, Node::Sub { id: j, .. }) => i == j,
        _ => same_item(a, b),
    }
}

/// Makes `built` (showing `old` in `container`) show `new`: items at both ends that hold the
/// same places are updated in place (a submenu with a new title is replaced where it stands),
/// the middle is replaced. A status line appearing or a poll that changes some text then
/// touches one or two items, not the whole (possibly open) menu.
fn sync(container: Container<'_>, old: &[Node], new: &[Node], built: &mut Vec<Built>) -> usize {
    let (prefix, suffix) = common_ends(old, new, same_slot);
    let mut created = 0;
    for i in (0..prefix).chain(old.len() - suffix..old.len()) {
        let j = if i < prefix {
            i
        } else {
            i + new.len() - old.len()
        };
        if same_item(&old[i], &new[j]) {
            created += update(&old[i], &new[j], &mut built[i]);
        } else {
            // The container still holds the old list here, so `i` is this item's place.
            container.remove(built[i].as_item());
            built[i] = build(&new[j]);
            container.insert(built[i].as_item(), i);
            created += 1;
        }
    }
    let middle_old = prefix..old.len() - suffix;
    for b in &built[middle_old.clone()] {
        container.remove(b.as_item());
    }
    let fresh: Vec<Built> = new[prefix..new.len() - suffix].iter().map(build).collect();
    created += fresh.len();
    for (k, b) in fresh.iter().enumerate() {
        container.insert(b.as_item(), prefix + k);
    }
    built.splice(middle_old, fresh);
    created
}

fn build(n: &Node) -> Built {
    match n {
        Node::Item {
            id, label, enabled, ..
        } => Built::Item(MenuItem::with_id(
            id.as_str(),
            muda_text(label),
            *enabled,
            accelerator(id),
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
            accelerator(id),
        )),
        Node::Sub {
            id,
            label,
            enabled,
            children,
        } => {
            let sub = Submenu::with_id(id.as_str(), muda_text(label), *enabled);
            let kids: Vec<Built> = children.iter().map(build).collect();
            for (k, b) in kids.iter().enumerate() {
                Container::Sub(&sub).insert(b.as_item(), k);
            }
            Built::Sub(sub, kids)
        }
        Node::Separator => Built::Sep(PredefinedMenuItem::separator()),
    }
}

/// Changes only what differs. Check marks are compared with the live item, because GTK and
/// AppKit toggle them on click before we hear about it.
fn update(old: &Node, new: &Node, built: &mut Built) -> usize {
    match (old, new, built) {
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
            0
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
            0
        }
        (
            Node::Sub {
                enabled: oe,
                children: oc,
                ..
            },
            Node::Sub {
                enabled: ne,
                children: nc,
                ..
            },
            Built::Sub(s, kids),
        ) => {
            if oe != ne {
                s.set_enabled(*ne);
            }
            sync(Container::Sub(s), oc, nc, kids)
        }
        _ => 0,
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

    fn item(id: &str) -> Node {
        Node::Item {
            id: id.into(),
            label: id.into(),
            enabled: true,
            action: None,
        }
    }

    #[test]
    fn only_the_changed_middle_is_replaced() {
        let old = vec![item("a"), item("b"), Node::Separator, item("z")];
        // A status line appears after "a": one new item, the rest reused.
        let new = vec![
            item("a"),
            item("msg"),
            item("b"),
            Node::Separator,
            item("z"),
        ];
        assert_eq!(common_ends(&old, &new, same_item), (1, 3));
        // Same ids, new labels: everything reused.
        assert_eq!(common_ends(&old, &old.clone(), same_item), (4, 0));
        // Nothing in common.
        assert_eq!(common_ends(&[item("x")], &[item("y")], same_slot), (0, 0));
        // A submenu with a new title is replaced (GTK would keep showing the old one).
        let sub = |id: &str, label: &str| Node::sub(id, label, vec![item("c")]);
        let old = vec![
            item("a"),
            sub("target.site", "… site — Checking…"),
            item("z"),
        ];
        let new = vec![
            item("a"),
            sub("target.site", "– site — cannot be checked"),
            item("z"),
        ];
        assert_eq!(common_ends(&old, &new, same_item), (1, 1));
        assert!(!same_item(&old[1], &new[1]) && same_slot(&old[1], &new[1]));
        assert_eq!(common_ends(&old, &new, same_slot), (3, 0));
        // Two check lines with new evidence hold their places: each is replaced on its own.
        let old = vec![sub("check.a", "✓ a"), item("x"), sub("check.b", "✓ b")];
        let new = vec![sub("check.a", "✗ a"), item("x"), sub("check.b", "✗ b")];
        assert_eq!(common_ends(&old, &new, same_item), (0, 0));
        assert_eq!(common_ends(&old, &new, same_slot), (3, 0));
        assert!(!same_slot(&item("x"), &sub("x", "x")));
        // A line appearing among them (red → green drops the summary) keeps the rest in place.
        let grown = vec![
            item("msg"),
            sub("check.a", "✗ a"),
            item("x"),
            sub("check.b", "✗ b"),
        ];
        assert_eq!(common_ends(&old, &grown, same_slot), (0, 3));
        // Shrinking never double-counts an item as both prefix and suffix.
        let (p, s) = common_ends(&[item("a"), item("a")], &[item("a")], same_slot);
        assert_eq!(p + s, 1);
    }
}
