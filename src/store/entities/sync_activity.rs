//! `sync_activity` rows: the per-integration activity log.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_activity")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub integration_id: i64,
    pub direction: String,
    pub kind: String,
    pub member_id: Option<i64>,
    pub location_id: Option<i64>,
    pub st_id: Option<i64>,
    pub task_id: Option<i64>,
    pub result: String,
    pub attempt: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub fields: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
