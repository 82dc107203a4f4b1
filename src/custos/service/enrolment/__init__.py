"""Enrolment: what a subject does for themselves while signed in: sign-in and
sessions, second factors, re-authentication, enrolment of authenticators and
recovery contacts."""
