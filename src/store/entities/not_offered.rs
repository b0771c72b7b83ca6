//! `not_offered_conditions` rows: (trade, condition) pairs a contractor does not offer.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "not_offered_conditions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub integration_id: i64,
    pub trade: String,
    pub condition: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
