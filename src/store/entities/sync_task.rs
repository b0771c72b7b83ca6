//! `sync_tasks` rows.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub integration_id: i64,
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub dedupe_key: Option<String>,
    pub state: String,
    pub attempts: i32,
    pub run_after_ms: i64,
    pub lease_owner: Option<String>,
    pub lease_until_ms: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
