//! Lambda function `invitations_revoke`: serves `tenant::routes::invitations::revoke`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::invitations::revoke)
}
