//! The catalogue of privileges (`privileges`, migration 2).

use postgres::GenericClient;

use super::Pg;
use crate::model::CataloguedPrivilege;
use crate::store::Result;

impl<C: GenericClient> Pg<C> {
    /// The catalogue, sorted by name; empty on a store older than it,
    /// which a read leaves as it is (the table appears at the first
    /// write). Looked up first: a failed statement would end the read's
    /// transaction.
    pub(super) fn read_catalogue(&self) -> Result<Vec<CataloguedPrivilege>> {
        if !self.has_catalogue()? {
            return Ok(Vec::new());
        }
        let rows = self.all(
            "SELECT name, description, created_at FROM privileges ORDER BY name",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| CataloguedPrivilege {
                name: r.get(0),
                description: r.get(1),
                created_at: r.get(2),
            })
            .collect())
    }

    fn has_catalogue(&self) -> Result<bool> {
        Ok(self
            .one("SELECT to_regclass('privileges') IS NOT NULL", &[])?
            .get(0))
    }

    /// How many privileges the catalogue holds (0 without one).
    pub(super) fn privilege_count(&self) -> Result<i64> {
        if !self.has_catalogue()? {
            return Ok(0);
        }
        Ok(self.one("SELECT count(*) FROM privileges", &[])?.get(0))
    }

    pub(super) fn write_privilege(&self, p: &CataloguedPrivilege) -> Result<()> {
        self.run(
            "INSERT INTO privileges (name, description, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET description = excluded.description",
            &[&p.name, &p.description, &p.created_at],
        )
        .map(drop)
    }

    pub(super) fn remove_privilege(&self, name: &str) -> Result<()> {
        self.run("DELETE FROM privileges WHERE name = $1", &[&name])
            .map(drop)
    }
}
