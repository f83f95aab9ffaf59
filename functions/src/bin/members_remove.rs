//! Lambda function `members_remove`: serves `tenant::members::remove`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::members::remove)
}
