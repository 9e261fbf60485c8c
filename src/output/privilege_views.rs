//! What the `privilege` commands print: the catalogue, and a removal.

use serde::Serialize;

use super::fit::Step;
use super::table::fitted_table;
use super::{Style, Text, View, local, utc_field};
use crate::model::CataloguedPrivilege;

/// A privilege of the catalogue.
#[derive(Serialize)]
struct PrivilegeView<'a> {
    name: &'a str,
    description: Option<&'a str>,
    #[serde(serialize_with = "utc_field")]
    created: i64,
}

/// `privilege list`, and the privileges `privilege add` added or changed.
#[derive(Serialize)]
#[serde(transparent)]
pub struct PrivilegeList<'a> {
    privileges: Vec<PrivilegeView<'a>>,
    #[serde(skip)]
    empty: &'static str,
}

impl<'a> PrivilegeList<'a> {
    /// `empty`: what stderr says when there is none.
    pub fn new(privileges: &'a [CataloguedPrivilege], empty: &'static str) -> PrivilegeList<'a> {
        PrivilegeList {
            privileges: privileges
                .iter()
                .map(|p| PrivilegeView {
                    name: &p.name,
                    description: p.description.as_deref(),
                    created: p.created_at,
                })
                .collect(),
            empty,
        }
    }
}

impl View for PrivilegeList<'_> {
    fn text(&self, style: Style) -> Text {
        if self.privileges.is_empty() {
            return Text::empty(self.empty);
        }
        let rows = self
            .privileges
            .iter()
            .map(|p| {
                vec![
                    p.name.to_string(),
                    p.description.unwrap_or_default().to_string(),
                    local(p.created),
                ]
            })
            .collect();
        // On a terminal the description gives way first; the name stays.
        let steps = [Step::Shrink(1, 20), Step::Short(2), Step::Drop(2)];
        Text::line(fitted_table(
            style,
            &["Name", "Description", "Added"],
            rows,
            &steps,
        ))
    }
}

/// `privilege remove`.
#[derive(Serialize)]
pub struct PrivilegeRemovedView<'a> {
    removed: &'a str,
}

impl<'a> PrivilegeRemovedView<'a> {
    pub fn new(name: &'a str) -> PrivilegeRemovedView<'a> {
        PrivilegeRemovedView { removed: name }
    }
}

impl View for PrivilegeRemovedView<'_> {
    fn text(&self, _: Style) -> Text {
        Text::line(format!(
            "removed privilege '{}' from the catalogue",
            self.removed
        ))
    }
}
