"""The people's read API (API Gateway REST proxy, behind a Cognito user pool authoriser)."""
