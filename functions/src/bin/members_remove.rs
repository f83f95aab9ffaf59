//! Lambda function `members_remove`: serves `tenant::routes::members::remove`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::members::remove)
}
