//! Trade conditions a contractor does not offer: bookings for them are refused with a reason,
//! and going live does not wait for a job type for them.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("not_offered_conditions")
                .col(big_pk_auto("id"))
                .col(big_integer("integration_id"))
                .col(string("trade"))
                .col(string("condition"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "not_offered_conditions",
                    "integration_id",
                    "integrations",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "not_offered_conditions",
            "ux_not_offered_conditions",
            &["integration_id", "trade", "condition"],
            true,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("not_offered_conditions").to_owned())
            .await
    }
}
