"""The one MetaData every capability's tables attach to."""

import sqlalchemy as sa

metadata = sa.MetaData()
