//! Lambda function `invitations_accept`: serves `tenant::routes::invitations::accept`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::invitations::accept)
}
