//! Lambda function `members_update`: serves `tenant::routes::members::change_role`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::members::change_role)
}
