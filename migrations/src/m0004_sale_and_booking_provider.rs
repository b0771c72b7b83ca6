//! What selling a membership and creating a call-centre booking need from setup, which
//! ServiceTitan's APIs do not expose: per plan, the business unit and the sale task (a pricebook
//! item) of the sale; per integration, the booking provider tag the tenant admin chose when
//! connecting the app.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: &[(&str, &str, bool)] = &[
    ("plan_mappings", "business_unit_id", true),
    ("plan_mappings", "sale_task_id", true),
    ("integrations", "booking_provider_id", true),
    ("integrations", "booking_provider_name", false),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        for (table, column, integer) in COLUMNS {
            let mut col = ColumnDef::new(Alias::new(*column));
            if *integer {
                col.big_integer().null();
            } else {
                col.string().null();
            }
            m.alter_table(
                Table::alter()
                    .table(Alias::new(*table))
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, column, _) in COLUMNS.iter().rev() {
            m.alter_table(
                Table::alter()
                    .table(Alias::new(*table))
                    .drop_column(Alias::new(*column))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
