//! `inbound_seen` rows.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbound_seen")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub integration_id: i64,
    pub stream: String,
    pub st_id: i64,
    pub modified_on: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
