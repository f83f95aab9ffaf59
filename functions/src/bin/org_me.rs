//! Lambda function `org_me`: serves `tenant::routes::organizations::me`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::organizations::me)
}
