//! Lambda function `invitations_create`: serves `tenant::invitations::create`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::invitations::create)
}
