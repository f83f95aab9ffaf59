//! Lambda function `members_update`: serves `tenant::members::change_role`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::members::change_role)
}
