//! Lambda function `invitations_accept`: serves `tenant::invitations::accept`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::invitations::accept)
}
