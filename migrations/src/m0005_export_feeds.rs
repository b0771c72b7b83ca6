//! Inbound through ServiceTitan's export feeds: each stream's cursor keeps the feed's
//! `continueFrom` token and its backfill counters (records read and applied, the estimated total,
//! when the pass started), and bookings are looked up by their ServiceTitan job and booking IDs
//! on every inbound job, so those lookups get indexes.
use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (column, kind): `t` text, `i` big integer with default 0, `ts` timestamp.
const CURSOR_COLUMNS: &[(&str, &str)] = &[
    ("feed_token", "t"),
    ("records_read", "i"),
    ("records_applied", "i"),
    ("records_total", "i"),
    ("pass_started_at", "ts"),
];

const INDEXES: &[(&str, &str, &[&str])] = &[
    (
        "bookings",
        "ix_bookings_st_job",
        &["partner_id", "st_job_id"],
    ),
    (
        "bookings",
        "ix_bookings_st_booking",
        &["partner_id", "st_booking_id"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        for (column, kind) in CURSOR_COLUMNS {
            let mut col = ColumnDef::new(Alias::new(*column));
            match *kind {
                "t" => col.text().null(),
                "i" => col.big_integer().not_null().default(0),
                _ => col.timestamp_with_time_zone().null(),
            };
            m.alter_table(
                Table::alter()
                    .table(Alias::new("sync_cursors"))
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        }
        for (table, name, cols) in INDEXES {
            m.create_index(index(table, name, cols, false)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, name, _) in INDEXES.iter().rev() {
            m.drop_index(
                Index::drop()
                    .name(*name)
                    .table(Alias::new(*table))
                    .to_owned(),
            )
            .await?;
        }
        for (column, _) in CURSOR_COLUMNS.iter().rev() {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("sync_cursors"))
                    .drop_column(Alias::new(*column))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
