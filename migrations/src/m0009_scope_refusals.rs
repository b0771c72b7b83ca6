//! ServiceTitan's 403s for a scope the app lacks are counted apart from credential refusals:
//! calls to the modules the app still holds succeed in between, so a count that any success
//! resets would never reach the threshold while one module stays refused.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("integrations"))
                .add_column(
                    ColumnDef::new(Alias::new("scope_refusals"))
                        .integer()
                        .not_null()
                        .default(0),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("integrations"))
                .drop_column(Alias::new("scope_refusals"))
                .to_owned(),
        )
        .await
    }
}
