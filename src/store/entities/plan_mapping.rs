//! `plan_mappings` rows.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plan_mappings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub integration_id: i64,
    pub plan_code: String,
    pub membership_type_id: i64,
    pub membership_type_name: String,
    /// Business unit the membership is sold in.
    pub business_unit_id: Option<i64>,
    /// The pricebook item that sells the membership (the type's sale task).
    pub sale_task_id: Option<i64>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
