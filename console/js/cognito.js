// Amazon Cognito's user-pool JSON API, as the browser speaks it: one POST per operation to the
// `cognitoUrl` of the config (`X-Amz-Target` names the operation). No SDK: the four operations the
// console needs are a few lines each, and the app stays free of third-party code.

export class CognitoError extends Error {
  constructor(type, message, status) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

const MESSAGES = {
  NotAuthorizedException: 'Incorrect username or password.',
  UserNotFoundException: 'Incorrect username or password.',
  PasswordResetRequiredException: 'Your password must be reset by an administrator before you can sign in.',
  UserNotConfirmedException: 'Your account is not confirmed yet. Ask an administrator.',
  InvalidPasswordException: 'That password does not meet the password policy.',
  TooManyRequestsException: 'Too many attempts. Wait a minute and try again.',
  LimitExceededException: 'Too many attempts. Wait a minute and try again.',
};

async function call(url, operation, body, fetchImpl) {
  let response;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-amz-json-1.1',
        'X-Amz-Target': `AWSCognitoIdentityProviderService.${operation}`,
      },
      body: JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new CognitoError('NetworkError', 'The sign-in service cannot be reached. Check your connection.', 0);
  }
  let doc = {};
  try {
    doc = await response.json();
  } catch {
    doc = {};
  }
  if (!response.ok) {
    const type = String(doc.__type || doc.code || 'Error').split('#').pop();
    throw new CognitoError(type, MESSAGES[type] || doc.message || `Sign-in failed (HTTP ${response.status}).`, response.status);
  }
  return doc;
}

export function cognitoClient(config, fetchImpl = (...args) => fetch(...args)) {
  const url = config.cognitoUrl;
  const clientId = config.userPoolClientId;
  return {
    /** USER_PASSWORD_AUTH: tokens, or a challenge (NEW_PASSWORD_REQUIRED for a first sign-in). */
    passwordAuth(username, password) {
      return call(url, 'InitiateAuth', {
        AuthFlow: 'USER_PASSWORD_AUTH',
        ClientId: clientId,
        AuthParameters: {USERNAME: username, PASSWORD: password},
      }, fetchImpl);
    },
    newPassword(session, username, newPassword) {
      return call(url, 'RespondToAuthChallenge', {
        ChallengeName: 'NEW_PASSWORD_REQUIRED',
        ClientId: clientId,
        Session: session,
        ChallengeResponses: {USERNAME: username, NEW_PASSWORD: newPassword},
      }, fetchImpl);
    },
    refresh(refreshToken) {
      return call(url, 'InitiateAuth', {
        AuthFlow: 'REFRESH_TOKEN_AUTH',
        ClientId: clientId,
        AuthParameters: {REFRESH_TOKEN: refreshToken},
      }, fetchImpl);
    },
    /** Revoke this browser's refresh token (and the tokens issued from it). */
    revoke(refreshToken) {
      return call(url, 'RevokeToken', {ClientId: clientId, Token: refreshToken}, fetchImpl);
    },
  };
}
