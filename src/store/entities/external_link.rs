//! `external_links` rows.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "external_links")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub integration_id: i64,
    pub kind: String,
    pub local_id: String,
    pub st_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
