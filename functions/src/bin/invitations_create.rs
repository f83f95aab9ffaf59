//! Lambda function `invitations_create`: serves `tenant::routes::invitations::create`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::invitations::create)
}
