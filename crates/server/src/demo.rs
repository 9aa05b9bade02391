//! The demo fleet that a fresh `forecourt` creates, so the README walk-through works at
//! once. Everything goes through the real services (invites, audit, HSM-made PANs); only
//! the first operator is written directly, because someone has to exist first.

use domain::{GroupId, Product, Role, SessionId, UserId};
use issuing::auth::AcceptInvite;
use issuing::views::InvitedUserView;
use issuing::{
    CreateGroup, CreateOrg, CreateUser, CreateVehicle, Created, IssueCard, Issuing, IssuingError,
    Principal,
};
use store::{Effects, Store, UserRecord, UserStatus};

/// The password of every demo account. Public on purpose: it is printed and in the README.
pub const DEMO_PASSWORD: &str = "forecourt-demo";

/// Who the demo created, for the start-up banner and tests.
#[derive(Debug, Clone)]
pub struct DemoFleet {
    pub logins: Vec<(Role, String)>,
    pub card_ids: Vec<domain::CardId>,
}

/// Seeds the demo fleet if the database holds no org yet. Returns `None` when it did
/// nothing.
pub async fn seed_if_empty<S: Store>(
    issuing: &Issuing<S>,
) -> Result<Option<DemoFleet>, IssuingError> {
    if !issuing.store().list_orgs().await?.is_empty() {
        return Ok(None);
    }
    let operator = create_operator(issuing).await?;
    let mut logins = vec![(Role::Operator, operator_email())];
    let analyst = fresh(
        issuing
            .create_user(
                &operator,
                &user("fraud@forecourt.example", "Fiona Fraud", Role::FraudAnalyst, None),
                None,
            )
            .await?,
    )?;
    logins.push((Role::FraudAnalyst, activate(issuing, analyst).await?));

    let org = CreateOrg {
        name: "Demo Taxi Co".into(),
        currency: "EUR".into(),
        time_zone: "Europe/Berlin".into(),
        owner: serde_json::from_value(
            serde_json::json!({"email": "owner@demo-taxi.example", "name": "Olga Owner"}),
        )
        .map_err(|e| IssuingError::Internal(e.to_string()))?,
    };
    let created = fresh(issuing.create_org(&operator, &org, None).await?)?;
    let org_id = created.org.id;
    let owner_id = created.owner.user.id;
    logins.push((Role::Owner, activate(issuing, created.owner).await?));
    let owner = principal(owner_id, Role::Owner, Some(org_id));

    let north = fresh(
        issuing
            .create_group(
                &owner,
                &CreateGroup { name: "North depot".into(), parent_id: None },
                None,
            )
            .await?,
    )?
    .id;
    let south = fresh(
        issuing
            .create_group(
                &owner,
                &CreateGroup { name: "South depot".into(), parent_id: None },
                None,
            )
            .await?,
    )?
    .id;
    let admin = fresh(
        issuing
            .create_user(
                &owner,
                &user("admin.north@demo-taxi.example", "Nils North", Role::Admin, Some(north)),
                None,
            )
            .await?,
    )?;
    logins.push((Role::Admin, activate(issuing, admin).await?));

    let mut card_ids = Vec::new();
    for (email, name, group, plate) in [
        ("anna@demo-taxi.example", "Anna Driver", north, "B-TX 101"),
        ("boris@demo-taxi.example", "Boris Driver", south, "B-TX 202"),
    ] {
        let driver = fresh(
            issuing
                .create_user(&owner, &user(email, name, Role::Driver, Some(group)), None)
                .await?,
        )?;
        let driver_id = driver.user.id;
        logins.push((Role::Driver, activate(issuing, driver).await?));
        let vehicle = CreateVehicle {
            plate: plate.into(),
            products: vec![Product::Diesel, Product::Adblue],
            tank_capacity_ml: 70_000,
            group_id: Some(group),
        };
        let vehicle = fresh(issuing.create_vehicle(&owner, &vehicle, None).await?)?;
        let card = IssueCard {
            group_id: Some(group),
            driver_id: Some(driver_id),
            vehicle_id: Some(vehicle.id),
        };
        card_ids.push(fresh(issuing.issue_card(&owner, &card, None).await?)?.id);
    }
    Ok(Some(DemoFleet { logins, card_ids }))
}

fn operator_email() -> String {
    "operator@forecourt.example".into()
}

async fn create_operator<S: Store>(issuing: &Issuing<S>) -> Result<Principal, IssuingError> {
    let id = UserId::new();
    let user = UserRecord {
        id,
        org_id: None,
        email: operator_email(),
        name: "Platform Operator".into(),
        role: Role::Operator,
        group_id: None,
        group_path: None,
        status: UserStatus::Active,
        password_hash: Some(issuing::auth::passwords::hash(DEMO_PASSWORD)?),
        invite_hash: None,
        invite_expires_us: None,
        language: domain::Language::En,
        created_us: 0,
        version: 1,
    };
    issuing.store().create_user(&user, Effects::default()).await?;
    Ok(principal(id, Role::Operator, None))
}

fn principal(user_id: UserId, role: Role, org_id: Option<domain::OrgId>) -> Principal {
    Principal {
        user_id,
        role,
        org_id,
        group_id: None,
        group_path: None,
        session_id: SessionId::new(),
    }
}

fn user(email: &str, name: &str, role: Role, group_id: Option<GroupId>) -> CreateUser {
    CreateUser { email: email.into(), name: name.into(), role, group_id }
}

async fn activate<S: Store>(
    issuing: &Issuing<S>,
    invited: InvitedUserView,
) -> Result<String, IssuingError> {
    let accept = AcceptInvite {
        invite_token: invited.invite_token.unwrap_or_default(),
        password: DEMO_PASSWORD.into(),
    };
    Ok(issuing.accept_invite(&accept).await?.email)
}

fn fresh<T>(created: Created<T>) -> Result<T, IssuingError> {
    match created {
        Created::Fresh(value) => Ok(value),
        Created::Replayed { .. } => {
            Err(IssuingError::Internal("demo seeding replayed a request".into()))
        }
    }
}
