//! Lambda function `org_me`: serves `tenant::org::me`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::org::me)
}
