//! Lambda function `members_list`: serves `tenant::members::list`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::members::list)
}
