//! Schema migrations for titanbridge. Every migration runs on SQLite and PostgreSQL and can be
//! rolled back.
pub use sea_orm_migration::prelude::*;

mod m0001_accounts_and_onboarding;
mod m0002_mappings_and_members;
mod m0003_sync;
mod m0004_sale_and_booking_provider;
mod m0005_export_feeds;
mod m0006_task_queue_indexes;
mod m0007_sync_activity;
mod m0008_not_offered;
mod m0009_scope_refusals;
mod m0010_stable_claim_plans;

/// All migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_accounts_and_onboarding::Migration),
            Box::new(m0002_mappings_and_members::Migration),
            Box::new(m0003_sync::Migration),
            Box::new(m0004_sale_and_booking_provider::Migration),
            Box::new(m0005_export_feeds::Migration),
            Box::new(m0006_task_queue_indexes::Migration),
            Box::new(m0007_sync_activity::Migration),
            Box::new(m0008_not_offered::Migration),
            Box::new(m0009_scope_refusals::Migration),
            Box::new(m0010_stable_claim_plans::Migration),
        ]
    }
}

/// Creates a (possibly unique) index with a stable name.
pub(crate) fn index(table: &str, name: &str, cols: &[&str], unique: bool) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(Alias::new(table));
    for c in cols {
        idx.col(Alias::new(*c));
    }
    if unique {
        idx.unique();
    }
    idx.to_owned()
}

/// Runs raw statements in order (migrations whose SQL the schema builder cannot express, such
/// as partial indexes).
pub(crate) async fn execute_all(m: &SchemaManager<'_>, sqls: &[&str]) -> Result<(), DbErr> {
    for sql in sqls {
        m.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}

/// A foreign key that deletes children with their parent.
pub(crate) fn fk(from_table: &str, from_col: &str, to_table: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Alias::new(from_table), Alias::new(from_col))
        .to(Alias::new(to_table), Alias::new("id"))
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}
