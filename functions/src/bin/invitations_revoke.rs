//! Lambda function `invitations_revoke`: serves `tenant::invitations::revoke`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::invitations::revoke)
}
