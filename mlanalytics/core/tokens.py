"""JWTs that end when their user's credentials change.

Every token carries the user's `token_version` (claim `ver`) from when it was issued. The API's JWT
authentication refuses an access token whose version is no longer the user's, and the refresh endpoint refuses
such a refresh token, so raising the version (core.accounts.revoke_tokens: password changed or reset, account
deactivated) ends every token issued before, at once; the outstanding refresh tokens are blacklisted as well.
A token without the claim counts as version 0: those issued before this check existed end at the first change.
"""
from django.contrib.auth import get_user_model
from drf_spectacular.contrib.rest_framework_simplejwt import (
    SimpleJWTScheme,
    TokenObtainPairSerializerExtension,
    TokenRefreshSerializerExtension,
)
from rest_framework_simplejwt import authentication, serializers
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings

VERSION_CLAIM = "ver"
REVOKED = "This token was ended by a change of password or account; log in again."


def issued_version(token):
    return token.get(VERSION_CLAIM, 0)


class TokenObtainPairSerializer(serializers.TokenObtainPairSerializer):
    @classmethod
    def get_token(cls, user):
        token = super().get_token(user)
        token[VERSION_CLAIM] = user.token_version  # copied into the access tokens made from it
        return token


class TokenRefreshSerializer(serializers.TokenRefreshSerializer):
    def validate(self, attrs):
        refresh = self.token_class(attrs["refresh"])  # refuses expired, forged and blacklisted tokens
        user_id = refresh.get(api_settings.USER_ID_CLAIM)
        user = get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()
        if user is None or issued_version(refresh) != user.token_version:
            raise InvalidToken(REVOKED)
        return super().validate(attrs)


class JWTAuthentication(authentication.JWTAuthentication):
    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        if issued_version(validated_token) != user.token_version:
            raise AuthenticationFailed(REVOKED, code="token_revoked")
        return user


# The OpenAPI schema describes these exactly as simplejwt's own classes.
class JWTScheme(SimpleJWTScheme):
    target_class = "mlanalytics.core.tokens.JWTAuthentication"


class TokenObtainSchema(TokenObtainPairSerializerExtension):
    target_class = "mlanalytics.core.tokens.TokenObtainPairSerializer"


class TokenRefreshSchema(TokenRefreshSerializerExtension):
    target_class = "mlanalytics.core.tokens.TokenRefreshSerializer"
