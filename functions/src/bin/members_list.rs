//! Lambda function `members_list`: serves `tenant::routes::members::list`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::members::list)
}
