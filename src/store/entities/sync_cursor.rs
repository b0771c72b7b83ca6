//! `sync_cursors` rows.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_cursors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub integration_id: i64,
    pub stream: String,
    pub watermark: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub continue_from: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub feed_token: Option<String>,
    pub records_read: i64,
    pub records_applied: i64,
    pub records_total: i64,
    pub pass_started_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
